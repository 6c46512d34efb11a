using MultiTenant.Scheduling;
using Microsoft.Extensions.Time.Testing;

namespace MultiTenant.Scheduling.Testing;

/// <summary>
/// A restart storm on fake time: every tenant asks for a connect at once; a connect takes 200 ms to 1.5 s (seeded; or
/// <c>minLatency</c> to <c>maxLatency</c>), multiplied by
/// (1 + excess / capacity) when more than <c>backendCapacity</c> are in flight, and fails when more than three times the capacity are;
/// a failed tenant asks again 1 s later. Driven step by step (at most 1 ms of fake time per step), without threads: the limiter's
/// grants complete synchronously, so the run is deterministic. With no limiter, <c>fixedLimit</c> connects run at once (a semaphore).
/// Shared with the benchmarks (linked), which run it against the fixed limit the coordinator had before.
/// </summary>
internal static class ConnectStorm
{
    public static Result Run(
        FakeTimeProvider time, AdaptiveConnectLimiter? limiter, int tenants, int backendCapacity, int fixedLimit = 0, int seed = 12,
        TimeSpan? giveUpAfter = null, TimeSpan? minLatency = null, TimeSpan? maxLatency = null)
    {
        double min = (minLatency ?? TimeSpan.FromMilliseconds(200)).TotalSeconds;
        double spread = (maxLatency ?? TimeSpan.FromMilliseconds(1500)).TotalSeconds - min;
        var random = new Random(seed);
        var start = time.GetUtcNow();
        var giveUp = start + (giveUpAfter ?? TimeSpan.FromMinutes(2));
        var warm = start + TimeSpan.FromSeconds(5);
        var completions = new PriorityQueue<(long Granted, int Tenant, bool Fails), DateTimeOffset>();
        var retries = new PriorityQueue<int, DateTimeOffset>();
        var waiting = new Queue<(int Tenant, Task<long> Grant)>();
        int inFlight = 0, connected = 0, failures = 0, maxAfterWarmUp = 0;
        var allConnectedAt = giveUp;

        void Request(int tenant) => waiting.Enqueue((tenant, limiter?.AcquireAsync(CancellationToken.None) ?? Task.FromResult(0L)));

        void StartConnect(int tenant, long granted, DateTimeOffset now)
        {
            inFlight++;
            if (now >= warm)
            {
                maxAfterWarmUp = Math.Max(maxAfterWarmUp, inFlight);
            }

            double slowdown = 1 + (Math.Max(0, inFlight - (double)backendCapacity) / backendCapacity);
            var latency = TimeSpan.FromSeconds((min + (spread * random.NextDouble())) * slowdown);
            completions.Enqueue((granted, tenant, inFlight > 3L * backendCapacity), now + latency);
        }

        for (int i = 0; i < tenants; i++)
        {
            Request(i);
        }

        while (connected < tenants && time.GetUtcNow() < giveUp)
        {
            var now = time.GetUtcNow();
            while (waiting.TryPeek(out var next) && (limiter is null ? inFlight < fixedLimit : next.Grant.IsCompleted))
            {
                waiting.Dequeue();
                StartConnect(next.Tenant, next.Grant.Result, now);
            }

            var step = now + TimeSpan.FromMilliseconds(1);
            if (completions.TryPeek(out _, out var due) && due < step)
            {
                step = due;
            }

            if (retries.TryPeek(out _, out var retry) && retry < step)
            {
                step = retry;
            }

            if (step > now)
            {
                time.Advance(step - now);
                now = time.GetUtcNow();
            }

            while (completions.TryPeek(out var done, out due) && due <= now)
            {
                completions.Dequeue();
                inFlight--;
                if (done.Fails)
                {
                    failures++;
                    limiter?.Release(done.Granted, ConnectOutcome.Failed);
                    retries.Enqueue(done.Tenant, now + TimeSpan.FromSeconds(1));
                }
                else
                {
                    connected++;
                    limiter?.Release(done.Granted, ConnectOutcome.Succeeded);
                    if (connected == tenants)
                    {
                        allConnectedAt = now;
                    }
                }
            }

            while (retries.TryPeek(out int tenant, out retry) && retry <= now)
            {
                retries.Dequeue();
                Request(tenant);
            }
        }

        return new Result(connected, failures, allConnectedAt - start, maxAfterWarmUp);
    }

    internal sealed record Result(int Connected, int Failures, TimeSpan AllConnectedAfter, int MaxInFlightAfterWarmUp);
}
