using System.Text.RegularExpressions;

namespace MultiTenant.Deployment.Tests.Infrastructure;

/// <summary>
/// The Prometheus text exposition format as a scrape sees it: each sample's metric name (histograms as their <c>_bucket</c>,
/// <c>_sum</c> and <c>_count</c> series) with the label names it carries.
/// </summary>
public static partial class PrometheusText
{
    /// <summary>Metric name → label names, over every sample line of <paramref name="exposition"/>.</summary>
    public static Dictionary<string, HashSet<string>> Series(string exposition)
    {
        var series = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (string raw in exposition.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var sample = Sample().Match(line);
            Assert.True(sample.Success, $"Not a sample line of the text format: {line}");
            string name = sample.Groups["name"].Value;
            if (!series.TryGetValue(name, out var labels))
            {
                series[name] = labels = new HashSet<string>(StringComparer.Ordinal);
            }

            foreach (Match label in Label().Matches(sample.Groups["labels"].Value))
            {
                labels.Add(label.Groups["label"].Value);
            }
        }

        return series;
    }

    /// <summary>Adds <paramref name="more"/> into <paramref name="into"/> (names and their labels).</summary>
    public static void Merge(Dictionary<string, HashSet<string>> into, Dictionary<string, HashSet<string>> more)
    {
        foreach (var (name, labels) in more)
        {
            if (!into.TryGetValue(name, out var existing))
            {
                into[name] = existing = new HashSet<string>(StringComparer.Ordinal);
            }

            existing.UnionWith(labels);
        }
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?<labels>.*)\})?\s+\S+(?:\s+\S+)?$")]
    private static partial Regex Sample();

    [GeneratedRegex(@"(?<label>[a-zA-Z_][a-zA-Z0-9_]*)=""(?:[^""\\]|\\.)*""")]
    private static partial Regex Label();
}
