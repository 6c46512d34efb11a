using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using MultiTenant.Tests.Shared;
using Xunit.Abstractions;

namespace MultiTenant.AspNetCore.Tests.Fuzz;

/// <summary>
/// 10,000 generated requests (methods, paths under /api and elsewhere, keys and other headers, content types, random, garbled, deep
/// and huge bodies) against the real sample over loopback, mostly as admin: none may be answered 5xx (the health endpoints' 503
/// "unhealthy" aside) or go unanswered, and the sample keeps serving. The seed is printed; FUZZ_SEED replays another one.
/// </summary>
public sealed class SampleFuzzTests(ITestOutputHelper output)
{
    private const int Requests = 10_000;
    private const int DefaultSeed = 20261203;
    private const string AdminKey = "fuzz-admin-key-0123456789";

    [Fact]
    public async Task Ten_thousand_generated_requests_get_no_5xx_and_the_sample_stays_alive()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) ? s : DefaultSeed;
        output.WriteLine($"FUZZ_SEED={seed}");
        await using var sample = SampleProcess.StartBuilt(typeof(SampleFuzzTests).Assembly, new Dictionary<string, string>
        {
            ["API_KEY"] = AdminKey,
            ["Logging__LogLevel__Default"] = "Warning",
            ["Simulator__ConnectDelayMin"] = "00:00:00",
            ["Simulator__ConnectDelayMax"] = "00:00:00.010",
            // The limiter runs but is not what is fuzzed: buckets large enough for the whole run, so requests reach the endpoints.
            ["WhatsAppTenants__Api__RateLimits__Admin__PermitsPerSecond"] = "1000000",
            ["WhatsAppTenants__Api__RateLimits__Admin__Burst"] = "1000000",
            ["WhatsAppTenants__Api__RateLimits__Anonymous__PermitsPerSecond"] = "1000000",
            ["WhatsAppTenants__Api__RateLimits__Anonymous__Burst"] = "1000000",
        });
        await sample.WaitUntilListeningAsync(TimeSpan.FromSeconds(60));
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, MaxConnectionsPerServer = 8 })
        {
            BaseAddress = sample.BaseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };
        http.DefaultRequestHeaders.Authorization = null;
        foreach (string tenant in FuzzRequests.KnownTenants)
        {
            using var started = await SendAsAdminAsync(http, HttpMethod.Post, "/api/tenants", $$"""{"business_id":"{{tenant}}"}""");
            Assert.Equal(HttpStatusCode.Created, started.StatusCode);
        }

        var statuses = new ConcurrentDictionary<int, int>();
        var failures = new ConcurrentQueue<string>();
        var transport = new ConcurrentQueue<FuzzRequest>();
        var clock = Stopwatch.StartNew();
        await Parallel.ForAsync(0, Requests, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, cancellationToken) =>
        {
            var request = FuzzRequests.Create(seed, i, AdminKey);
            using var message = request.ToMessage();
            try
            {
                using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                int status = (int)response.StatusCode;
                statuses.AddOrUpdate(status, 1, static (_, n) => n + 1);
                if (status >= 500 && !(status == 503 && IsHealth(request.Path)))
                {
                    failures.Enqueue($"{request.Describe()} -> {status}: {await ReadStartAsync(response)}");
                }
            }
            catch (HttpRequestException)
            {
                // The server may answer a body over the limit 413 and close the connection while the client is still sending it.
                transport.Enqueue(request);
            }
            catch (TaskCanceledException)
            {
                failures.Enqueue($"{request.Describe()} -> no answer within 30 s");
            }
        });
        clock.Stop();

        output.WriteLine($"{Requests} requests in {clock.Elapsed.TotalSeconds:F1} s; statuses: {string.Join(", ", statuses.OrderBy(p => p.Key).Select(p => $"{p.Key}x{p.Value}"))}; transport errors: {transport.Count}");
        Assert.True(failures.IsEmpty, $"FUZZ_SEED={seed}: {failures.Count} requests failed, for example:\n{string.Join('\n', failures.Take(10))}\n--- sample output ---\n{sample.OutputTail()}");

        // A connection cut is acceptable only where the server refused a large body early.
        var unexplained = transport.Where(r => (r.Body?.Length ?? 0) <= 64 * 1024).Select(r => r.Describe()).ToArray();
        Assert.True(unexplained.Length == 0, $"FUZZ_SEED={seed}: connections failed without a large body:\n{string.Join('\n', unexplained.Take(10))}");

        Assert.False(sample.HasExited, "The sample exited:\n" + sample.OutputTail());
        using var live = await http.GetAsync("/livez");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        using var list = await SendAsAdminAsync(http, HttpMethod.Get, "/api/tenants", body: null);
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        using var send = await SendAsAdminAsync(http, HttpMethod.Post, "/api/tenants/fuzz1/messages", """{"to":"15551234567","text":"still here"}""");
        Assert.True(send.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.Conflict, $"A send after the fuzz answered {(int)send.StatusCode}: {await send.Content.ReadAsStringAsync()}");
        Assert.True(statuses.Keys.Count(k => k is >= 400 and < 500) >= 5, "The fuzz reached too few kinds of refusal to be meaningful.");
        Assert.True(statuses.Keys.Any(k => k is >= 200 and < 300), "No generated request succeeded.");
    }

    private static bool IsHealth(string path) => path.StartsWith("/health", StringComparison.Ordinal) || path.StartsWith("/ready", StringComparison.Ordinal);

    private static async Task<HttpResponseMessage> SendAsAdminAsync(HttpClient http, HttpMethod method, string path, string? body)
    {
        using var message = new HttpRequestMessage(method, path);
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        if (body is not null)
        {
            message.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        return await http.SendAsync(message);
    }

    private static async Task<string> ReadStartAsync(HttpResponseMessage response)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            var buffer = new byte[2048];
            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
            int read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, timeout.Token);
            return Encoding.UTF8.GetString(buffer, 0, read);
        }
        catch (OperationCanceledException)
        {
            return "(no body within 2 s)";
        }
    }
}
