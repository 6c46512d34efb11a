using System.Text.Json;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace MultiTenant.Deployment.Tests.Infrastructure;

/// <summary>The queries of deploy/grafana and deploy/prometheus, each with where it comes from (for failure messages).</summary>
public static partial class MonitoringFiles
{
    public const string Dashboard = "deploy/grafana/multitenant-fleet.json";
    public const string AlertRules = "deploy/prometheus/multitenant-alerts.yaml";

    /// <summary>
    /// Labels a series has in Prometheus without the app exporting them: the scrape's <c>job</c> and <c>instance</c>, and what the
    /// Prometheus Operator adds through the ServiceMonitor (<c>namespace</c>, <c>service</c>, <c>pod</c>, <c>container</c>, <c>endpoint</c>).
    /// </summary>
    public static readonly IReadOnlySet<string> TargetLabels = new HashSet<string>(StringComparer.Ordinal)
    {
        "job", "instance", "namespace", "service", "pod", "container", "endpoint",
    };

    /// <summary>The dashboard's panel queries (rows' nested panels included) and its template variables' label_values queries.</summary>
    public static IReadOnlyList<(string Where, string Expression)> DashboardQueries()
    {
        using var dashboard = JsonDocument.Parse(Repository.Read(Dashboard));
        var queries = new List<(string, string)>();
        CollectPanels(dashboard.RootElement.GetProperty("panels"), queries);
        foreach (var variable in dashboard.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray())
        {
            if (variable.GetProperty("type").GetString() == "query")
            {
                string query = variable.GetProperty("query").GetProperty("query").GetString()!;
                var labelValues = LabelValues().Match(query);
                Assert.True(labelValues.Success, $"Template variable {variable.GetProperty("name")}: only label_values(selector, label) is checked; got {query}");
                // As an expression: the selector, grouped by the label (so the label's existence is checked like a by clause).
                queries.Add(($"variable ${variable.GetProperty("name").GetString()}", $"count by ({labelValues.Groups["label"].Value}) ({labelValues.Groups["selector"].Value})"));
            }
        }

        return queries;
    }

    /// <summary>Every rule of the alert rule file.</summary>
    public static IReadOnlyList<YamlMappingNode> Rules() =>
        Yaml.LoadDocument(AlertRules).Seq("groups")
            .SelectMany(group => group.Seq("rules"))
            .Cast<YamlMappingNode>()
            .ToArray();

    private static void CollectPanels(JsonElement panels, List<(string, string)> queries)
    {
        foreach (var panel in panels.EnumerateArray())
        {
            string title = panel.TryGetProperty("title", out var t) ? t.GetString()! : "(untitled)";
            if (panel.TryGetProperty("targets", out var targets))
            {
                foreach (var target in targets.EnumerateArray())
                {
                    queries.Add(($"panel '{title}' ({target.GetProperty("refId").GetString()})", target.GetProperty("expr").GetString()!));
                }
            }

            if (panel.TryGetProperty("panels", out var nested))
            {
                CollectPanels(nested, queries);
            }
        }
    }

    [GeneratedRegex(@"^label_values\((?<selector>.+),\s*(?<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*\)$")]
    private static partial Regex LabelValues();
}
