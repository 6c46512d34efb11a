using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MultiTenant.Deployment.Tests.Infrastructure;
using MultiTenant.PostgreSql;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace MultiTenant.Deployment.Tests;

/// <summary>
/// The sample built as the Dockerfile builds it and started as the image and the StatefulSet start it (see <see cref="Container"/>),
/// on a real PostgreSQL in fleet mode: the probes, the HEALTHCHECK and a SIGTERM as the kubelet sends it.
/// </summary>
[Collection(PublishedSampleCollection.Name)]
public sealed class PublishedSampleTests(PublishedSample sample, PostgreSqlFixture database, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly string _apiKey = Convert.ToHexString(Guid.NewGuid().ToByteArray()).ToLowerInvariant();
    private SampleProcess? _host;

    public Task InitializeAsync()
    {
        output.WriteLine($"build stage carried out in {sample.BuildTime.TotalSeconds:F1} s (once per run); PostgreSQL: {database.Description}");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
            output.WriteLine($"host output, last lines:{Environment.NewLine}{_host.OutputTail()}");
        }

        _http.Dispose();
    }

    [Fact]
    public async Task Started_as_the_StatefulSet_starts_it_the_host_is_live_turns_ready_with_a_tenant_and_stops_cleanly_on_SIGTERM()
    {
        var k8s = Kubernetes.Load();
        string url = await database.CreateDatabaseAsync(nameof(PublishedSampleTests));
        var environment = Container.Environment(new Dictionary<string, string> { ["DATABASE_URL"] = url, ["API_KEY"] = _apiKey, ["KEY_ENCRYPTION_KEY"] = "q6V0jOQ3m1rX0yqJ8m0e6K8h4fN2sVb1tZ9cW5dY3aE=" });
        _host = Container.Start(sample, environment);

        long started = Stopwatch.GetTimestamp();
        using (await Container.UntilStatusAsync(_http, _host, k8s.Container.Str("livenessProbe.httpGet.path"), HttpStatusCode.OK, StartLimit))
        {
            output.WriteLine($"/livez 200 after {Stopwatch.GetElapsedTime(started).TotalMilliseconds:F0} ms");
        }

        // Docker's HEALTHCHECK (bash and /dev/tcp, as the image's user) passes against the running host.
        Assert.Equal(0, await Container.HealthCheckAsync(sample, environment));

        // No tenant yet: not ready (the Service routes to hosts that run tenants).
        string readiness = k8s.Container.Str("readinessProbe.httpGet.path");
        using (var notReady = await _http.GetAsync(_host.Url(readiness)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Post, _host.Url("/api/tenants")) { Content = JsonContent.Create(new { business_id = "deploy1" }) })
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _apiKey);
            using var created = await _http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using (var ready = await Container.UntilStatusAsync(_http, _host, readiness, HttpStatusCode.OK, StartLimit))
        {
            using var body = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
            Assert.True(body.RootElement.GetProperty("ready").GetBoolean());
            output.WriteLine($"{readiness} 200 after {Stopwatch.GetElapsedTime(started).TotalMilliseconds:F0} ms: {body.RootElement}");
        }

        // HOST_ID came from the pod name: the fleet names this host the tenant's owner.
        using (var request = new HttpRequestMessage(HttpMethod.Get, _host.Url("/api/tenants/deploy1")))
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _apiKey);
            using var status = await _http.SendAsync(request);
            using var body = JsonDocument.Parse(await status.Content.ReadAsStringAsync());
            Assert.Equal(k8s.FirstPodName, body.RootElement.GetProperty("host").GetString());
        }

        Assert.Equal((k8s.FirstPodName, true), await LeaseAsync(url, "deploy1"));

        // SIGTERM after the preStop delay: the host must be gone (exit 0) within what is left of the grace period.
        int grace = k8s.StatefulSet.Int("spec.template.spec.terminationGracePeriodSeconds");
        int preStop = k8s.Container.Int("lifecycle.preStop.sleep.seconds");
        var left = TimeSpan.FromSeconds(grace - preStop);
        long terminated = Stopwatch.GetTimestamp();
        await _host.TerminateAsync();
        await _host.WaitForExitAsync(left);
        var stopping = Stopwatch.GetElapsedTime(terminated);
        output.WriteLine($"SIGTERM: exited {_host.ExitCode} after {stopping.TotalMilliseconds:F0} ms (limit {left.TotalSeconds:F0} s)");
        Assert.Equal(0, _host.ExitCode);
        Assert.True(stopping < left);

        // It handed the tenant over: the lease is released (SPEC §9), not left to expire.
        Assert.False((await LeaseAsync(url, "deploy1")).Held, "The host exited without releasing its lease.");

        // With the host gone the HEALTHCHECK fails (the check can tell).
        Assert.NotEqual(0, await Container.HealthCheckAsync(sample, environment));
    }

    /// <summary>The tenant's lease row: its owner and whether it is held (an instance set and not expired by the database clock).</summary>
    private static async Task<(string? Owner, bool Held)> LeaseAsync(string connectionString, string businessId)
    {
        await using var source = NpgsqlDataSource.Create(connectionString);
        await using var command = source.CreateCommand(
            $"SELECT owner, instance_id IS NOT NULL AND expires_at > now() FROM {PostgreSqlStoreOptions.DefaultSchema}.leases WHERE business_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = businessId });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"{businessId} has no lease row.");
        return (reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetBoolean(1));
    }
}
