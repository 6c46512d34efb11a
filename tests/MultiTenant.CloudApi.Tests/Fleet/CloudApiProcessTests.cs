using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Serialization;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Tests.Shared;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;
using static MultiTenant.CloudApi.Tests.Infrastructure.MetaPayloads;

namespace MultiTenant.CloudApi.Tests.Fleet;

/// <summary>
/// The inbox's at-least-once contract with real processes (issue 10): two sample processes in Cloud API mode on one throwaway
/// PostgreSQL with the fake Graph on loopback, Meta's signed deliveries spread over both, the busier host killed with SIGKILL
/// mid-stream. The sample's handling audit (<c>Handling:AuditFile</c>: a start and a done line per handling, with the event id) must
/// show every acknowledged delivery handled, and a second handling only for an item whose handlers were running at the kill, with the
/// same event id.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class CloudApiProcessTests(PostgreSqlFixture postgres, ITestOutputHelper output) : IAsyncLifetime
{
    private const int TenantCount = 6;
    private const int MessagesPerTenant = 20;
    private const string ApiKey = "cloud-api-process-test-admin-key";
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(40);

    private readonly List<SampleProcess> _hosts = [];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10), DefaultRequestHeaders = { { "Authorization", "Bearer " + ApiKey } } };
    private readonly string _directory = Directory.CreateTempSubdirectory("mt-cloudapi-process-").FullName;
    private FakeGraphApi _graph = null!;
    private string _database = null!;

    public async Task InitializeAsync()
    {
        _graph = await FakeGraphApi.StartAsync();
        _database = await postgres.CreateDatabaseAsync("cloudapiprocess");
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
            output.WriteLine($"{host.Id} (pid {host.Pid}) output, last lines:{Environment.NewLine}{host.OutputTail()}");
        }

        await _graph.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Kill_9_mid_stream_every_acknowledged_delivery_is_handled_and_only_an_item_in_flight_twice_with_its_event_id()
    {
        var hosts = await Task.WhenAll(StartHostAsync("a"), StartHostAsync("b"));
        var tenants = Enumerable.Range(1, TenantCount).Select(i => "proc" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        await Task.WhenAll(tenants.Select(async (tenant, i) =>
        {
            string phone = Phone(i);
            string token = "EAAGtoken-process-" + i.ToString(CultureInfo.InvariantCulture);
            _graph.AddNumber(phone, token);
            using var put = await _http.PutAsJsonAsync(hosts[i % 2].Url($"/api/tenants/{tenant}/cloud-api/credentials"), new { phone_number_id = phone, access_token = token });
            Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
            using var start = await _http.PostAsJsonAsync(hosts[i % 2].Url("/api/tenants"), new { business_id = tenant });
            Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        }));
        var placed = await WaitUntilAllConnectedAsync(hosts[0], hosts.Select(h => h.Id).ToHashSet(), "every tenant connected on one of the two hosts");
        var killed = hosts.OrderByDescending(h => placed.Count(s => s.Host == h.Id)).First();
        var survivor = hosts.Single(h => h != killed);
        output.WriteLine("placed: " + string.Join(", ", placed.GroupBy(s => s.Host).Select(g => $"{g.Key}={g.Count()}")));

        // Every tenant's messages, in order, each to one host and then the other (as a load balancer spreads Meta's deliveries). A
        // delivery that gets no 200 (the killed host) is delivered again to the other host, as Meta redelivers. Half-way through the
        // whole stream the busier host is killed: the other senders keep going meanwhile.
        var acknowledged = new ConcurrentDictionary<string, string>(StringComparer.Ordinal); // event id -> host that answered 200
        int sent = 0;
        long killedAtMs = 0;
        int unacknowledged = 0;
        await Task.WhenAll(tenants.Select((tenant, t) => Task.Run(async () =>
        {
            for (int m = 0; m < MessagesPerTenant; m++)
            {
                string id = MessageId(tenant, m);
                string payload = Envelope(Change(Phone(t), messages: [TextMessage("16505551234", id, 1739321024 + m, "m" + m.ToString(CultureInfo.InvariantCulture))]));
                var target = hosts[(t + m) % 2];
                while (true)
                {
                    if (await DeliverAsync(target, payload))
                    {
                        acknowledged[id] = target.Id;
                        break;
                    }

                    Interlocked.Increment(ref unacknowledged);
                    Assert.True(target == killed, $"{target.Id} did not acknowledge {id}");
                    target = survivor;
                }

                if (Interlocked.Increment(ref sent) == TenantCount * MessagesPerTenant / 2)
                {
                    Interlocked.Exchange(ref killedAtMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                    killed.Kill();
                }
            }
        })));
        Assert.Equal(TenantCount * MessagesPerTenant, acknowledged.Count);

        // Every acknowledged delivery handled (a done line on some host), bounded: the survivor takes over the killed host's tenants
        // once their leases expire, and their inbox then drains.
        var handlings = await Eventually.UntilAsync(
            () => Task.FromResult(ReadHandlings(hosts)),
            lines => acknowledged.Keys.All(id => lines.Any(l => l.What == "done" && l.EventId == id)),
            "every acknowledged delivery handled",
            WaitLimit);
        long doneAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        // The items the killed host's handlers were running at the kill: per tenant, the last one it started (one item per tenant is in
        // its handlers at a time; it may have written its done line before the kill but not yet recorded it in the inbox).
        var killedStarts = handlings.Where(l => l.Host == killed.Id && l.What == "start").ToList();
        var inFlight = killedStarts.GroupBy(l => l.Tenant).Select(g => g.Last()).ToDictionary(l => l.EventId, StringComparer.Ordinal);
        int runningAtKill = inFlight.Values.Count(l => !handlings.Any(d => d.Host == killed.Id && d.What == "done" && d.EventId == l.EventId));
        var twice = handlings.Where(l => l.What == "start").GroupBy(l => l.EventId).Where(g => g.Count() > 1).ToList();
        output.WriteLine(
            $"{acknowledged.Count} acknowledged ({acknowledged.Values.Count(h => h == killed.Id)} by {killed.Id} before the kill, {unacknowledged} delivered again "
            + $"to {survivor.Id}); kill -9 of {killed.Id} (owning {placed.Count(s => s.Host == killed.Id)}): {runningAtKill} handlers running, "
            + $"{inFlight.Count} last started; all handled {doneAtMs - killedAtMs} ms after the kill; handled twice: {twice.Count} "
            + $"({string.Join(", ", twice.Select(g => g.Key))})");

        Assert.True(runningAtKill > 0, "The kill landed while no handler ran: the test did not exercise a kill mid-handling.");
        foreach (var again in twice)
        {
            // A second handling only for an item in flight at the kill, on the survivor after the kill, with the same event id.
            Assert.True(inFlight.ContainsKey(again.Key), $"{again.Key} was handled twice but was not in the killed host's handlers at the kill: {string.Join("; ", again)}");
            var starts = again.OrderBy(l => l.AtMs).ToList();
            Assert.Equal(2, starts.Count);
            Assert.Equal(killed.Id, starts[0].Host);
            Assert.Equal(survivor.Id, starts[1].Host);
            Assert.True(starts[1].AtMs >= killedAtMs, $"{again.Key}: handled again before the kill");
        }

        // Nothing handled that was not delivered; each host handled each tenant's messages in the order they were delivered.
        Assert.All(handlings, l => Assert.True(acknowledged.ContainsKey(l.EventId), $"handled but never acknowledged: {l}"));
        foreach (var run in handlings.Where(l => l.What == "start").GroupBy(l => (l.Host, l.Tenant)))
        {
            var order = run.Select(l => l.EventId).Distinct(StringComparer.Ordinal).ToList();
            Assert.Equal(order.Order(StringComparer.Ordinal), order);
        }
    }

    private static string Phone(int tenant) => "1065403522" + tenant.ToString("D5", CultureInfo.InvariantCulture);

    private static string MessageId(string tenant, int message) => $"wamid.{tenant}.{message.ToString("D3", CultureInfo.InvariantCulture)}";

    /// <summary>Posts one delivery signed with the app secret; true when the host answered 200.</summary>
    private async Task<bool> DeliverAsync(SampleProcess host, string payload)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, host.Url(SignedWebhook.Path)) { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        request.Headers.Add(WebhookSignature.HeaderName, WebhookSignature.Compute(CloudApiTestHost.AppSecret, Encoding.UTF8.GetBytes(payload)));
        try
        {
            using var response = await _http.SendAsync(request);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false; // refused or reset: the killed host
        }
    }

    /// <summary>Every complete line of the hosts' handling audits (a line the kill cut short is skipped).</summary>
    private static List<Handling> ReadHandlings(SampleProcess[] hosts)
    {
        var lines = new List<Handling>();
        foreach (var host in hosts)
        {
            if (!File.Exists(host.AuditFile))
            {
                continue;
            }

            using var stream = new FileStream(host.AuditFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is { } line)
            {
                string[] parts = line.Split(' ');
                if (parts.Length == 5 && parts[0] is "start" or "done" && long.TryParse(parts[4], CultureInfo.InvariantCulture, out long at))
                {
                    lines.Add(new Handling(parts[0], parts[1], parts[2], parts[3], at));
                }
            }
        }

        return lines;
    }

    private async Task<TenantStatusBody[]> WaitUntilAllConnectedAsync(SampleProcess via, HashSet<string> owners, string description) =>
        await Eventually.UntilAsync(
            async () =>
            {
                try
                {
                    return await _http.GetFromJsonAsync<TenantStatusBody[]>(via.Url("/api/tenants")) ?? [];
                }
                catch (HttpRequestException)
                {
                    return [];
                }
            },
            statuses => statuses.Length == TenantCount && statuses.All(s => s.Status == "connected" && s.Host is not null && owners.Contains(s.Host)),
            description,
            WaitLimit);

    private async Task<SampleProcess> StartHostAsync(string name)
    {
        string id = "cloud-" + name;
        string audit = Path.Combine(_directory, $"handled-{id}.log");
        var host = await SampleProcess.StartAsync(
            id,
            new Dictionary<string, string>
            {
                ["DATABASE_URL"] = new NpgsqlConnectionStringBuilder(_database) { ApplicationName = id, MaxPoolSize = 10 }.ConnectionString,
                ["HOST_ID"] = id,
                ["API_KEY"] = ApiKey,
                ["WhatsAppTenants__Secrets__KeyEncryptionKey"] = SecretScan.KeyEncryptionKey,
                ["WhatsAppTenants__Client"] = "CloudApi",
                ["WhatsAppTenants__CloudApi__GraphBaseUrl"] = _graph.BaseUrl.ToString(),
                ["WhatsAppTenants__CloudApi__AppSecret"] = CloudApiTestHost.AppSecret,
                ["WhatsAppTenants__CloudApi__VerifyToken"] = CloudApiTestHost.VerifyToken,
                ["WhatsAppTenants__Api__RateLimits__Enabled"] = "false",
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["Logging__LogLevel__Default"] = "Warning",
                ["Handling__AuditFile"] = audit,
                // Handlers that take a while, so the stream builds a backlog and the kill lands while handlers run.
                ["Handling__Delay"] = "00:00:00.250",
                // Short leases for speed (valid: renew ≤ (TTL − margin) / 2); dead after 3 missed heartbeats = 1.5 s.
                ["WhatsAppTenants__Fleet__LeaseTtl"] = "00:00:03",
                ["WhatsAppTenants__Fleet__RenewInterval"] = "00:00:00.500",
                ["WhatsAppTenants__Fleet__SafetyMargin"] = "00:00:01",
                ["WhatsAppTenants__Fleet__HeartbeatInterval"] = "00:00:00.500",
                ["WhatsAppTenants__Fleet__ReconcileInterval"] = "00:00:00.250",
            },
            audit,
            WaitLimit);
        lock (_hosts)
        {
            _hosts.Add(host);
        }

        return host;
    }

    private sealed record Handling(string What, string Tenant, string EventId, string Host, long AtMs);

    private sealed record TenantStatusBody(
        [property: JsonPropertyName("business_id")] string BusinessId,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("host")] string? Host);
}
