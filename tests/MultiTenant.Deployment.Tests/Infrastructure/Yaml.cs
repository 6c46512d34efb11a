using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace MultiTenant.Deployment.Tests.Infrastructure;

/// <summary>
/// YAML files as node trees (YamlDotNet's representation model), merge keys (<c>&lt;&lt;: *anchor</c>, as compose files use them)
/// resolved as YAML 1.1 defines them (a key of the mapping itself wins over a merged one; YamlDotNet's MergingParser instead repeats
/// the key, which its loader rejects), and small typed accessors that fail the test with the path of a missing node.
/// </summary>
public static class Yaml
{
    /// <summary>Every document of a (multi-document) file, each a mapping.</summary>
    public static IReadOnlyList<YamlMappingNode> LoadDocuments(string relativePath)
    {
        using var reader = new StringReader(Repository.Read(relativePath));
        var stream = new YamlStream();
        stream.Load(new Parser(reader));
        return stream.Documents
            .Select(document => Assert.IsAssignableFrom<YamlMappingNode>(ResolveMerges(document.RootNode)))
            .ToArray();
    }

    /// <summary>A copy of the tree with every <c>&lt;&lt;</c> key replaced by the keys it merges that the mapping lacks.</summary>
    private static YamlNode ResolveMerges(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                var resolved = new YamlMappingNode();
                foreach (var (key, value) in mapping.Children)
                {
                    if (key is YamlScalarNode { Value: "<<" })
                    {
                        continue;
                    }

                    resolved.Add(key, ResolveMerges(value));
                }

                if (mapping.Children.TryGetValue(new YamlScalarNode("<<"), out var merged))
                {
                    var sources = merged is YamlSequenceNode sequence ? sequence.Children.ToArray() : [merged];
                    foreach (var source in sources)
                    {
                        var from = Assert.IsAssignableFrom<YamlMappingNode>(ResolveMerges(source));
                        foreach (var (key, value) in from.Children)
                        {
                            if (!resolved.Children.ContainsKey(key))
                            {
                                resolved.Add(key, value);
                            }
                        }
                    }
                }

                return resolved;
            case YamlSequenceNode sequence:
                return new YamlSequenceNode(sequence.Children.Select(ResolveMerges));
            default:
                return node;
        }
    }

    public static YamlMappingNode LoadDocument(string relativePath) => Assert.Single(LoadDocuments(relativePath));

    /// <summary>The node at a dotted path (<c>spec.template.spec</c>), or null.</summary>
    public static YamlNode? Find(this YamlNode node, string path)
    {
        YamlNode? current = node;
        foreach (string key in path.Split('.'))
        {
            if (current is not YamlMappingNode mapping || !mapping.Children.TryGetValue(new YamlScalarNode(key), out current))
            {
                return null;
            }
        }

        return current;
    }

    public static YamlMappingNode Map(this YamlNode node, string path) =>
        Assert.IsAssignableFrom<YamlMappingNode>(node.Find(path) ?? throw new Xunit.Sdk.XunitException($"No mapping at '{path}'."));

    public static IReadOnlyList<YamlNode> Seq(this YamlNode node, string path) =>
        Assert.IsAssignableFrom<YamlSequenceNode>(node.Find(path) ?? throw new Xunit.Sdk.XunitException($"No sequence at '{path}'.")).Children.ToArray();

    public static string Str(this YamlNode node, string path) =>
        node.StrOrNull(path) ?? throw new Xunit.Sdk.XunitException($"No scalar at '{path}'.");

    public static string? StrOrNull(this YamlNode node, string path) => (node.Find(path) as YamlScalarNode)?.Value;

    public static int Int(this YamlNode node, string path) => int.Parse(node.Str(path), NumberStyles.Integer, CultureInfo.InvariantCulture);

    /// <summary>A mapping of scalars (labels, selectors, environment maps) as a dictionary.</summary>
    public static Dictionary<string, string> Scalars(this YamlNode node, string path) =>
        node.Map(path).Children.ToDictionary(pair => ((YamlScalarNode)pair.Key).Value!, pair => ((YamlScalarNode)pair.Value).Value ?? string.Empty, StringComparer.Ordinal);
}
