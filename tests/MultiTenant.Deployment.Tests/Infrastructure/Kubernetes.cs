using YamlDotNet.RepresentationModel;

namespace MultiTenant.Deployment.Tests.Infrastructure;

/// <summary>The manifests of deploy/kubernetes, every document of every file, found by kind and name.</summary>
public sealed class Kubernetes
{
    public const string Folder = "deploy/kubernetes";

    private Kubernetes(IReadOnlyList<(string File, YamlMappingNode Document)> documents) => Documents = documents;

    public IReadOnlyList<(string File, YamlMappingNode Document)> Documents { get; }

    public static Kubernetes Load() => new(
        Directory.GetFiles(Repository.PathOf(Folder), "*.yaml").Order(StringComparer.Ordinal)
            .Select(path => Path.GetRelativePath(Repository.Root, path))
            .SelectMany(file => Yaml.LoadDocuments(file).Select(document => (file, document)))
            .ToArray());

    public IEnumerable<YamlMappingNode> OfKind(string kind) =>
        Documents.Where(d => d.Document.StrOrNull("kind") == kind).Select(d => d.Document);

    public YamlMappingNode Single(string kind) => Assert.Single(OfKind(kind));

    public YamlMappingNode StatefulSet => Single("StatefulSet");

    /// <summary>The StatefulSet's one container.</summary>
    public YamlMappingNode Container => Assert.IsAssignableFrom<YamlMappingNode>(Assert.Single(StatefulSet.Seq("spec.template.spec.containers")));

    /// <summary>The first pod's name (<c>&lt;name&gt;-0</c>), which the downward API gives as metadata.name.</summary>
    public string FirstPodName => StatefulSet.Str("metadata.name") + "-0";

    public Dictionary<string, string> PodLabels => StatefulSet.Scalars("spec.template.metadata.labels");

    /// <summary>
    /// The container's environment as the kubelet resolves it for the first pod: plain values, <c>fieldRef metadata.name</c> (the
    /// pod name), and <c>secretKeyRef</c> from <paramref name="secrets"/> (the Secret's real values are the operator's, not the
    /// example's). Any other source fails the test, so a new kind of reference is noticed here first.
    /// </summary>
    public Dictionary<string, string> ResolveEnvironment(IReadOnlyDictionary<string, string> secrets)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in Container.Seq("env"))
        {
            string name = entry.Str("name");
            if (entry.StrOrNull("value") is { } value)
            {
                environment[name] = value;
            }
            else if (entry.StrOrNull("valueFrom.fieldRef.fieldPath") is { } field)
            {
                Assert.Equal("metadata.name", field);
                environment[name] = FirstPodName;
            }
            else if (entry.StrOrNull("valueFrom.secretKeyRef.key") is { } key)
            {
                Assert.True(secrets.TryGetValue(key, out string? secret), $"The test gives no value for the secret key {key} of {name}.");
                environment[name] = secret;
            }
            else
            {
                throw new Xunit.Sdk.XunitException($"The env entry {name} has a source this test does not resolve.");
            }
        }

        return environment;
    }

    /// <summary>The container port a probe or Service targets: by name (<c>http</c>) or number.</summary>
    public int ContainerPort(string nameOrNumber)
    {
        var ports = Container.Seq("ports");
        if (int.TryParse(nameOrNumber, System.Globalization.CultureInfo.InvariantCulture, out int number))
        {
            Assert.Contains(ports, p => p.Int("containerPort") == number);
            return number;
        }

        return Assert.Single(ports, p => p.StrOrNull("name") == nameOrNumber).Int("containerPort");
    }

    public static bool Selects(IReadOnlyDictionary<string, string> selector, IReadOnlyDictionary<string, string> labels) =>
        selector.Count > 0 && selector.All(pair => labels.TryGetValue(pair.Key, out string? value) && value == pair.Value);
}
