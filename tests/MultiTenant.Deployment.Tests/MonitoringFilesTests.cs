using System.Text.Json;
using System.Text.RegularExpressions;
using MultiTenant.Deployment.Tests.Infrastructure;

namespace MultiTenant.Deployment.Tests;

/// <summary>
/// The Grafana dashboard and the Prometheus alert rules read on their own: well-formed, and their templates use only labels that
/// survive the queries' aggregations. (That every metric and label they read is exported: <see cref="ExportedMetricsTests"/>.)
/// </summary>
public sealed partial class MonitoringFilesTests
{
    [Fact]
    public void Every_alert_rule_is_named_once_has_a_severity_a_summary_and_a_valid_for()
    {
        var rules = MonitoringFiles.Rules();
        Assert.NotEmpty(rules);
        var names = rules.Select(r => r.Str("alert")).ToArray();
        Assert.Equal(names.Length, names.Distinct(StringComparer.Ordinal).Count());
        foreach (var rule in rules)
        {
            string name = rule.Str("alert");
            Assert.Contains(rule.Str("labels.severity"), (string[])["info", "warning", "critical"]);
            Assert.False(string.IsNullOrWhiteSpace(rule.Str("annotations.summary")), $"{name} has no summary.");
            Assert.False(string.IsNullOrWhiteSpace(rule.Str("expr")), $"{name} has no expression.");
            if (rule.StrOrNull("for") is { } duration)
            {
                Assert.Matches("^[0-9]+[smh]$", duration);
            }
        }
    }

    [Fact]
    public void Alert_annotations_and_dashboard_legends_use_only_labels_the_query_keeps()
    {
        foreach (var rule in MonitoringFiles.Rules())
        {
            string templates = string.Join(' ', rule.Map("annotations").Children.Values.Select(v => v.ToString()));
            foreach (Match label in AnnotationLabel().Matches(templates))
            {
                AssertKept(rule.Str("expr"), label.Groups["label"].Value, $"alert {rule.Str("alert")}");
            }
        }

        using var dashboard = JsonDocument.Parse(Repository.Read(MonitoringFiles.Dashboard));
        foreach (var (panel, target) in Targets(dashboard.RootElement.GetProperty("panels")))
        {
            if (target.TryGetProperty("legendFormat", out var legend))
            {
                foreach (Match label in LegendLabel().Matches(legend.GetString()!))
                {
                    AssertKept(target.GetProperty("expr").GetString()!, label.Groups["label"].Value, $"panel '{panel}'");
                }
            }
        }
    }

    [Fact]
    public void Alerts_cover_tenants_in_error_reconnect_storms_queue_depth_and_webhook_lag()
    {
        var used = MonitoringFiles.Rules().SelectMany(r => PromQl.Series(r.Str("expr")).Keys).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("whatsmeow_tenants_error", used);
        Assert.Contains("whatsmeow_tenant_reconnects_total", used);
        Assert.Contains("whatsmeow_queue_depth", used);
        Assert.Contains(used, name => name.StartsWith("whatsmeow_cloudapi_webhook_", StringComparison.Ordinal));
    }

    [Fact]
    public void Dashboard_panels_have_unique_ids_and_query_the_chosen_data_source()
    {
        using var dashboard = JsonDocument.Parse(Repository.Read(MonitoringFiles.Dashboard));
        var ids = new List<int>();
        Collect(dashboard.RootElement.GetProperty("panels"));
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Contains(dashboard.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray(), v => v.GetProperty("name").GetString() == "datasource");
        Assert.All(Targets(dashboard.RootElement.GetProperty("panels")), t => Assert.Equal("${datasource}", t.Target.GetProperty("datasource").GetProperty("uid").GetString()));

        void Collect(JsonElement panels)
        {
            foreach (var panel in panels.EnumerateArray())
            {
                ids.Add(panel.GetProperty("id").GetInt32());
                Assert.True(panel.TryGetProperty("gridPos", out _), $"Panel {panel.GetProperty("id")} has no gridPos.");
                if (panel.TryGetProperty("panels", out var nested))
                {
                    Collect(nested);
                }
            }
        }
    }

    /// <summary>An aggregated query keeps only its grouping labels; a template naming another one renders empty.</summary>
    private static void AssertKept(string expression, string label, string where)
    {
        if (Aggregation().IsMatch(expression))
        {
            Assert.True(
                PromQl.GroupingLabels(expression).Contains(label),
                $"{where}: the template uses the label {label}, which the aggregation in `{expression}` drops.");
        }
    }

    private static IEnumerable<(string Panel, JsonElement Target)> Targets(JsonElement panels)
    {
        foreach (var panel in panels.EnumerateArray())
        {
            if (panel.TryGetProperty("targets", out var targets))
            {
                foreach (var target in targets.EnumerateArray())
                {
                    yield return (panel.GetProperty("title").GetString()!, target);
                }
            }

            if (panel.TryGetProperty("panels", out var nested))
            {
                foreach (var inner in Targets(nested))
                {
                    yield return inner;
                }
            }
        }
    }

    [GeneratedRegex(@"\$labels\.(?<label>[a-zA-Z_][a-zA-Z0-9_]*)")]
    private static partial Regex AnnotationLabel();

    [GeneratedRegex(@"\{\{\s*(?<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")]
    private static partial Regex LegendLabel();

    [GeneratedRegex(@"\b(?:sum|min|max|avg|count|group|stddev|stdvar|topk|bottomk|quantile|count_values)\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(")]
    private static partial Regex Aggregation();
}
