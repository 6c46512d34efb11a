using System.Collections.Concurrent;
using System.Diagnostics;

namespace MultiTenant.Tests.Shared;

/// <summary>
/// Collects the stopped spans of the <c>MultiTenant</c> activity source through a real <see cref="ActivityListener"/> (what every
/// OpenTelemetry tracer provider uses), every span sampled. Tests of one assembly run in parallel and make spans too, so a test asks
/// for the spans of its own tenants (<c>business_id</c>). Linked into the test projects that check spans.
/// </summary>
public sealed class SpanCollector : IDisposable
{
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly SemaphoreSlim _spanStopped = new(0);
    private readonly ActivityListener _listener;

    public SpanCollector()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = static source => source.Name == "MultiTenant",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                _stopped.Enqueue(a);
                _spanStopped.Release();
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>
    /// The stopped spans named <paramref name="name"/> whose <c>business_id</c> is <paramref name="businessId"/> (<see langword="null"/>:
    /// spans without one) and that match <paramref name="where"/>, in stop order.
    /// </summary>
    public IReadOnlyList<Activity> Spans(string name, string? businessId, Func<Activity, bool>? where = null) =>
        _stopped.Where(a => a.OperationName == name && (a.GetTagItem("business_id") as string) == businessId && (where is null || where(a))).ToArray();

    /// <summary>
    /// Waits (up to 20 s, each wake-up a stopped span: spans stop on a tenant's loop, a moment after the awaited call returned) until
    /// <paramref name="count"/> such spans stopped, and returns them.
    /// </summary>
    public async Task<IReadOnlyList<Activity>> WaitForAsync(string name, string businessId, int count, Func<Activity, bool>? where = null)
    {
        var deadline = Stopwatch.GetTimestamp() + (20 * Stopwatch.Frequency);
        while (true)
        {
            var spans = Spans(name, businessId, where);
            if (spans.Count >= count)
            {
                return spans;
            }

            long left = deadline - Stopwatch.GetTimestamp();
            Assert.True(left > 0, $"{spans.Count} of {count} '{name}' spans of {businessId} stopped in 20 s.");
            await _spanStopped.WaitAsync(TimeSpan.FromSeconds((double)left / Stopwatch.Frequency));
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        _spanStopped.Dispose();
    }
}
