using System.Globalization;
using MultiTenant.Deployment.Tests.Infrastructure;
using YamlDotNet.RepresentationModel;

namespace MultiTenant.Deployment.Tests;

/// <summary>deploy/kubernetes read as the API server would read it, checked for the properties a fleet of hosts relies on.</summary>
public sealed class KubernetesManifestTests
{
    private readonly Kubernetes _k8s = Kubernetes.Load();

    [Fact]
    public void Grace_period_outlasts_the_preStop_delay_plus_the_hosts_shutdown_timeout()
    {
        var pod = _k8s.StatefulSet.Map("spec.template.spec");
        int grace = pod.Int("terminationGracePeriodSeconds");
        int preStop = _k8s.Container.Int("lifecycle.preStop.sleep.seconds");

        // The host's shutdown timeout as the host reads it: the container's env over the image's ENV (Dockerfile).
        var environment = new Dictionary<string, string>(Dockerfile.Load().Runtime.Environment(), StringComparer.Ordinal);
        foreach (var (name, value) in _k8s.ResolveEnvironment(AnySecrets()))
        {
            environment[name] = value;
        }

        Assert.True(environment.TryGetValue("DOTNET_SHUTDOWNTIMEOUTSECONDS", out string? configured), "The shutdown timeout is not configured, so it is the sample's default and not visible to this check.");
        int shutdown = int.Parse(configured, NumberStyles.None, CultureInfo.InvariantCulture);
        Assert.True(
            grace > preStop + shutdown,
            $"terminationGracePeriodSeconds ({grace}) must exceed the preStop sleep ({preStop}) plus the shutdown timeout ({shutdown}): the kubelet kills the host before it has handed its tenants over.");
    }

    [Fact]
    public void Liveness_is_livez_readiness_is_ready_on_the_container_port()
    {
        Assert.Equal("/livez", _k8s.Container.Str("livenessProbe.httpGet.path"));
        Assert.Equal("/ready", _k8s.Container.Str("readinessProbe.httpGet.path"));
        Assert.Equal("/livez", _k8s.Container.Str("startupProbe.httpGet.path"));
        foreach (string probe in (string[])["livenessProbe", "readinessProbe", "startupProbe"])
        {
            int port = _k8s.ContainerPort(_k8s.Container.Str(probe + ".httpGet.port"));
            Assert.Equal(HttpPort(), port);
        }
    }

    [Fact]
    public void HOST_ID_comes_from_the_pod_name()
    {
        var hostId = Assert.Single(_k8s.Container.Seq("env"), e => e.Str("name") == "HOST_ID");
        Assert.Equal("metadata.name", hostId.Str("valueFrom.fieldRef.fieldPath"));
        Assert.Null(hostId.StrOrNull("value"));
    }

    [Fact]
    public void Every_secret_reference_names_a_key_of_a_Secret_in_the_folder_and_the_credentials_come_from_it()
    {
        var secrets = _k8s.OfKind("Secret").ToArray();
        var references = _k8s.Container.Seq("env").Where(e => e.Find("valueFrom.secretKeyRef") is not null).ToArray();
        Assert.NotEmpty(references);
        foreach (var reference in references)
        {
            string name = reference.Str("valueFrom.secretKeyRef.name");
            string key = reference.Str("valueFrom.secretKeyRef.key");
            var secret = Assert.Single(secrets, s => s.Str("metadata.name") == name);
            var keys = ((string[])["stringData", "data"])
                .SelectMany(section => (secret.Find(section) as YamlMappingNode)?.Children.Keys ?? [])
                .Select(k => ((YamlScalarNode)k).Value);
            Assert.Contains(key, keys);
        }

        var fromSecrets = references.Select(r => r.Str("name")).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("DATABASE_URL", fromSecrets);
        Assert.Contains("API_KEY", fromSecrets);
        Assert.Contains("WhatsAppTenants__Secrets__KeyEncryptionKey", fromSecrets);
    }

    [Fact]
    public void Selectors_match_the_pods_the_StatefulSet_creates()
    {
        var labels = _k8s.PodLabels;
        var own = _k8s.StatefulSet.Scalars("spec.selector.matchLabels");
        Assert.True(Kubernetes.Selects(own, labels), "The StatefulSet's selector does not match its own pod template.");

        var pdb = _k8s.Single("PodDisruptionBudget");
        Assert.True(Kubernetes.Selects(pdb.Scalars("spec.selector.matchLabels"), labels), "The PodDisruptionBudget selects no pod of the StatefulSet.");
        Assert.Equal(own.OrderBy(p => p.Key), pdb.Scalars("spec.selector.matchLabels").OrderBy(p => p.Key));
        Assert.True(pdb.Find("spec.maxUnavailable") is not null || pdb.Find("spec.minAvailable") is not null);

        var services = _k8s.OfKind("Service").ToArray();
        Assert.NotEmpty(services);
        Assert.All(services, service => Assert.True(
            Kubernetes.Selects(service.Scalars("spec.selector"), labels),
            $"Service {service.Str("metadata.name")} selects no pod of the StatefulSet."));
    }

    [Fact]
    public void Service_ports_reach_the_container_port_the_host_listens_on()
    {
        foreach (var service in _k8s.OfKind("Service"))
        {
            foreach (var port in service.Seq("spec.ports"))
            {
                string target = port.StrOrNull("targetPort") ?? port.Str("port");
                Assert.Equal(HttpPort(), _k8s.ContainerPort(target));
            }
        }

        // The governing Service of the StatefulSet is headless (a DNS name per host) and lists hosts that are not Ready.
        var governing = Assert.Single(_k8s.OfKind("Service"), s => s.Str("metadata.name") == _k8s.StatefulSet.Str("spec.serviceName"));
        Assert.Equal("None", governing.Str("spec.clusterIP"));
        Assert.Equal("true", governing.Str("spec.publishNotReadyAddresses"));
    }

    [Fact]
    public void ServiceMonitor_scrapes_metrics_through_a_Service_of_the_hosts()
    {
        var monitor = _k8s.Single("ServiceMonitor");
        var selector = monitor.Scalars("spec.selector.matchLabels");
        var service = Assert.Single(_k8s.OfKind("Service"), s => Kubernetes.Selects(selector, s.Scalars("metadata.labels")));
        var endpoint = Assert.Single(monitor.Seq("spec.endpoints"));
        Assert.Equal("/metrics", endpoint.Str("path"));
        Assert.Contains(service.Seq("spec.ports"), p => p.StrOrNull("name") == endpoint.Str("port"));

        // Hosts that are not Ready (no tenant connected, or every tenant in error) are the ones to watch: they must be scraped too.
        Assert.Equal("true", service.Str("spec.publishNotReadyAddresses"));
    }

    [Fact]
    public void Pods_run_as_the_images_unprivileged_user()
    {
        var security = _k8s.StatefulSet.Map("spec.template.spec.securityContext");
        Assert.Equal("true", security.Str("runAsNonRoot"));
        string user = Assert.Single(Dockerfile.Load().Runtime.All("USER")).Arguments;
        Assert.Equal(user.Split(':')[0], security.Str("runAsUser"));
        Assert.NotEqual(0, security.Int("runAsUser"));
        Assert.Equal("false", _k8s.Container.Str("securityContext.allowPrivilegeEscalation"));
    }

    [Fact]
    public void Kustomization_lists_every_manifest_but_the_example_Secret()
    {
        var kustomization = Yaml.LoadDocument(Kubernetes.Folder + "/kustomization.yaml");
        var resources = kustomization.Seq("resources").Select(r => ((YamlScalarNode)r).Value!).Order(StringComparer.Ordinal).ToArray();
        var manifests = _k8s.Documents.Select(d => Path.GetFileName(d.File)).Distinct()
            .Where(f => f is not "kustomization.yaml" and not "secret.yaml").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(manifests, resources);
        Assert.Contains(_k8s.Documents, d => Path.GetFileName(d.File) == "secret.yaml" && d.Document.StrOrNull("kind") == "Secret");

        // The image the kustomization pins is the one the StatefulSet runs.
        Assert.Contains(kustomization.Seq("images"), i => i.Str("name") == _k8s.Container.Str("image"));
    }

    private int HttpPort()
    {
        int port = int.Parse(_k8s.ResolveEnvironment(AnySecrets())["HTTP_PORT"], NumberStyles.None, CultureInfo.InvariantCulture);
        Assert.Equal(port, _k8s.ContainerPort("http"));
        return port;
    }

    private static Dictionary<string, string> AnySecrets() => new(StringComparer.Ordinal) { ["DATABASE_URL"] = "unused", ["API_KEY"] = "unused", ["KEY_ENCRYPTION_KEY"] = "unused" };
}
