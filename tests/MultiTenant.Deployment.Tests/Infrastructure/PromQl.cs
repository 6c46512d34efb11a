using System.Text.RegularExpressions;

namespace MultiTenant.Deployment.Tests.Infrastructure;

/// <summary>
/// The series a PromQL expression (or a Grafana query, with its <c>$variables</c>) reads: each metric name with the label names its
/// matchers use. A small scanner, not a full parser: it knows PromQL's functions by their call parentheses, its keywords, and its
/// grouping clauses (<c>by (...)</c>, <c>on (...)</c>, ...), whose label lists are not metric names.
/// </summary>
public static partial class PromQl
{
    private static readonly HashSet<string> Keywords = new(StringComparer.OrdinalIgnoreCase)
    {
        "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "atan2",
    };

    /// <summary>Metric name → label names used in its matchers.</summary>
    public static Dictionary<string, HashSet<string>> Series(string expression)
    {
        var series = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        string text = GrafanaVariable().Replace(expression, "1");
        text = StringLiteral().Replace(text, "\"\"");
        text = Grouping().Replace(text, " ");
        text = RangeOrSubquery().Replace(text, " ");
        foreach (Match match in Selector().Matches(text))
        {
            string name = match.Groups["name"].Value;
            int end = match.Index + match.Length;
            bool isCall = !match.Groups["matchers"].Success && FollowedByParenthesis(text, end);
            if (isCall || Keywords.Contains(name))
            {
                continue;
            }

            if (!series.TryGetValue(name, out var labels))
            {
                series[name] = labels = new HashSet<string>(StringComparer.Ordinal);
            }

            if (match.Groups["matchers"].Success)
            {
                foreach (Match matcher in Matcher().Matches(match.Groups["matchers"].Value))
                {
                    labels.Add(matcher.Groups["label"].Value);
                }
            }
        }

        return series;
    }

    /// <summary>The label names of an expression's grouping clauses (<c>by (instance, le)</c>, <c>on (...)</c>, ...).</summary>
    public static HashSet<string> GroupingLabels(string expression)
    {
        var labels = new HashSet<string>(StringComparer.Ordinal);
        string text = StringLiteral().Replace(GrafanaVariable().Replace(expression, "1"), "\"\"");
        foreach (Match clause in Grouping().Matches(text))
        {
            string list = clause.Value[(clause.Value.IndexOf('(', StringComparison.Ordinal) + 1)..^1];
            foreach (string label in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                labels.Add(label);
            }
        }

        return labels;
    }

    private static bool FollowedByParenthesis(string text, int index)
    {
        while (index < text.Length && char.IsWhiteSpace(text[index]))
        {
            index++;
        }

        return index < text.Length && text[index] == '(';
    }

    // $__rate_interval, $instance, ${datasource}: replaced before scanning (they sit in ranges and matcher values).
    [GeneratedRegex(@"\$\{[^}]*\}|\$\w+")]
    private static partial Regex GrafanaVariable();

    [GeneratedRegex(@"""(?:[^""\\]|\\.)*""|'(?:[^'\\]|\\.)*'")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", RegexOptions.IgnoreCase)]
    private static partial Regex Grouping();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex RangeOrSubquery();

    // A name not preceded by a digit, letter, dot or colon (so 0.99 and 1e3 are numbers), with an optional {matchers} block.
    [GeneratedRegex(@"(?<![\w.:])(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s*\{(?<matchers>[^}]*)\})?")]
    private static partial Regex Selector();

    [GeneratedRegex(@"(?<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")]
    private static partial Regex Matcher();
}
