using System.Net;
using MultiTenant.Deployment.Tests.Infrastructure;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MultiTenant.Deployment.Tests;

/// <summary>
/// Every metric (and every label of its matchers and grouping clauses) that the Grafana dashboard and the alert rules read is one the
/// sample really exports: names collected by scraping <c>/metrics</c> of the published sample, started as the StatefulSet starts it
/// (PostgreSQL, so the pool gauge exists), with traffic that makes its counters and histogram appear (simulated messages, dropped
/// connections, an unpaired tenant), and of a second host on the Cloud API client that refused a webhook delivery.
/// </summary>
[Collection(PublishedSampleCollection.Name)]
public sealed class ExportedMetricsTests(PublishedSample sample, PostgreSqlFixture database, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly string _apiKey = Convert.ToHexString(Guid.NewGuid().ToByteArray()).ToLowerInvariant();
    private readonly List<SampleProcess> _hosts = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
            output.WriteLine($"host on port {host.Port}, last lines:{Environment.NewLine}{host.OutputTail()}");
        }

        _http.Dispose();
    }

    [Fact]
    public async Task Every_metric_and_label_the_dashboard_and_the_alert_rules_read_is_exported_by_the_sample()
    {
        var used = MonitoringFiles.DashboardQueries()
            .Concat(MonitoringFiles.Rules().Select(rule => ($"alert {rule.Str("alert")}", rule.Str("expr"))))
            .ToArray();
        Assert.True(used.Length > 20, $"Only {used.Length} queries found in the dashboard and the rules.");

        var simulator = await StartAsync(new Dictionary<string, string>
        {
            ["Logging__LogLevel__Default"] = "Warning",
            ["Simulator__MessagesPerSecond"] = "50",
            ["Simulator__DropAfter"] = "00:00:00.300",
            ["Simulator__ConnectDelayMin"] = "00:00:00",
            ["Simulator__ConnectDelayMax"] = "00:00:00.050",
            ["Simulator__UnpairedTenants__0"] = "unpaired",
        });
        var cloudApi = await StartAsync(new Dictionary<string, string>
        {
            ["Logging__LogLevel__Default"] = "Warning",
            ["WhatsAppTenants__Client"] = "CloudApi",
            ["WhatsAppTenants__CloudApi__AppSecret"] = "deployment-test-app-secret",
            ["WhatsAppTenants__CloudApi__VerifyToken"] = "deployment-test-verify-token",
        });

        foreach (string tenant in (string[])["busy", "unpaired"])
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, simulator.Url("/api/tenants")) { Content = System.Net.Http.Json.JsonContent.Create(new { business_id = tenant }) };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _apiKey);
            using var created = await _http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using (var webhook = new HttpRequestMessage(HttpMethod.Post, cloudApi.Url("/webhooks/whatsapp")) { Content = new StringContent("{\"object\":\"whatsapp_business_account\",\"entry\":[]}") })
        {
            webhook.Headers.Add("X-Hub-Signature-256", "sha256=" + new string('0', 64));
            using var refused = await _http.SendAsync(webhook);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        // Counters and histograms appear with their first measurement: scrape until everything used is there (or the limit).
        Dictionary<string, HashSet<string>> exported = [];
        List<string> missing = [];
        try
        {
            await Eventually.UntilAsync(
                async () =>
                {
                    exported = [];
                    foreach (var host in (SampleProcess[])[simulator, cloudApi])
                    {
                        Assert.False(host.HasExited, $"A host exited:{Environment.NewLine}{host.OutputTail()}");
                        PrometheusText.Merge(exported, PrometheusText.Series(await _http.GetStringAsync(host.Url("/metrics"))));
                    }

                    missing = Missing(used, exported);
                    return missing.Count == 0;
                },
                "every metric the dashboard and the rules use is exported",
                Limit);
        }
        catch (TimeoutException)
        {
            // Reported below, with what is missing.
        }

        output.WriteLine($"{used.Length} queries; exported: {string.Join(", ", exported.Keys.Order(StringComparer.Ordinal))}");
        Assert.True(missing.Count == 0, "Used but not exported:" + Environment.NewLine + string.Join(Environment.NewLine, missing));
    }

    /// <summary>What the queries read that the scrape lacks: metric names, and label names of matchers and grouping clauses.</summary>
    private static List<string> Missing(IEnumerable<(string Where, string Expression)> queries, Dictionary<string, HashSet<string>> exported)
    {
        var missing = new List<string>();
        foreach (var (where, expression) in queries)
        {
            var series = PromQl.Series(expression);
            if (series.Count == 0)
            {
                missing.Add($"{where}: `{expression}` reads no metric");
            }

            var labelsOfExpression = new HashSet<string>(MonitoringFiles.TargetLabels, StringComparer.Ordinal);
            foreach (var (name, labels) in series)
            {
                if (!exported.TryGetValue(name, out var has))
                {
                    missing.Add($"{where}: metric {name}");
                    continue;
                }

                labelsOfExpression.UnionWith(has);
                missing.AddRange(labels.Where(l => !has.Contains(l) && !MonitoringFiles.TargetLabels.Contains(l)).Select(l => $"{where}: label {l} of {name}"));
            }

            missing.AddRange(PromQl.GroupingLabels(expression).Where(l => !labelsOfExpression.Contains(l)).Select(l => $"{where}: grouping label {l}"));
        }

        return missing;
    }

    private async Task<SampleProcess> StartAsync(Dictionary<string, string> overrides)
    {
        string url = await database.CreateDatabaseAsync(nameof(ExportedMetricsTests));
        var host = Container.Start(sample, Container.Environment(new Dictionary<string, string> { ["DATABASE_URL"] = url, ["API_KEY"] = _apiKey, ["KEY_ENCRYPTION_KEY"] = "q6V0jOQ3m1rX0yqJ8m0e6K8h4fN2sVb1tZ9cW5dY3aE=" }, overrides));
        _hosts.Add(host);
        using (await Container.UntilStatusAsync(_http, host, "/livez", HttpStatusCode.OK, Limit))
        {
        }

        return host;
    }
}
