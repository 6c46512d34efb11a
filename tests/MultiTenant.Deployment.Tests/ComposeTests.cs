using System.Globalization;
using System.Text.RegularExpressions;
using MultiTenant.Deployment.Tests.Infrastructure;
using MultiTenant.PostgreSql;
using Npgsql;
using YamlDotNet.RepresentationModel;

namespace MultiTenant.Deployment.Tests;

/// <summary>compose.yaml read as <c>docker compose config</c> would resolve it: merge keys applied, <c>${VAR:-default}</c> interpolated.</summary>
public sealed partial class ComposeTests
{
    private const string ApiKey = "compose-test-admin-key";

    private readonly YamlMappingNode _compose = Yaml.LoadDocument("compose.yaml");

    /// <summary>The services built from this repository's Dockerfile: the sample's hosts.</summary>
    private IReadOnlyList<(string Name, YamlMappingNode Service)> Hosts =>
        _compose.Map("services").Children
            .Select(pair => (((YamlScalarNode)pair.Key).Value!, (YamlMappingNode)pair.Value))
            .Where(service => service.Item2.Find("build") is not null)
            .ToArray();

    [Fact]
    public void Two_hosts_of_one_fleet_share_the_database_and_the_admin_key_under_distinct_HOST_IDs()
    {
        Assert.True(Hosts.Count >= 2, "compose.yaml runs fewer than two sample hosts.");
        var environments = Hosts.Select(h => Environment(h.Service)).ToArray();
        Assert.Equal(Hosts.Count, environments.Select(e => e["HOST_ID"]).Distinct(StringComparer.Ordinal).Count());
        Assert.Single(environments.Select(e => e["DATABASE_URL"]).Distinct(StringComparer.Ordinal));
        Assert.All(environments, e => Assert.Equal(ApiKey, e["API_KEY"]));
        Assert.All(environments, e => Assert.False(e.TryGetValue("WhatsAppTenants__Fleet__Enabled", out string? fleet) && fleet == "false"));

        // The URL reaches the compose PostgreSQL service with the credentials and database that service creates.
        var postgres = _compose.Map("services").Children
            .Select(pair => (Name: ((YamlScalarNode)pair.Key).Value!, Service: (YamlMappingNode)pair.Value))
            .Single(s => s.Service.StrOrNull("image")?.StartsWith("postgres:", StringComparison.Ordinal) == true);
        var server = Environment(postgres.Service);
        var connection = new NpgsqlConnectionStringBuilder(DatabaseUrl.ToConnectionString(environments[0]["DATABASE_URL"]));
        Assert.Equal(postgres.Name, connection.Host);
        Assert.Equal(server["POSTGRES_USER"], connection.Username);
        Assert.Equal(server["POSTGRES_PASSWORD"], connection.Password);
        Assert.Equal(server["POSTGRES_DB"], connection.Database);
    }

    [Fact]
    public void Hosts_wait_for_a_healthy_database_and_get_longer_than_their_shutdown_timeout_to_stop()
    {
        foreach (var (name, service) in Hosts)
        {
            string database = Assert.Single(service.Map("depends_on").Children.Keys.Cast<YamlScalarNode>()).Value!;
            Assert.Equal("service_healthy", service.Str($"depends_on.{database}.condition"));
            Assert.NotNull(_compose.Find($"services.{database}.healthcheck.test"));

            int shutdown = int.Parse(Environment(service)["DOTNET_SHUTDOWNTIMEOUTSECONDS"], NumberStyles.None, CultureInfo.InvariantCulture);
            var grace = GraceDuration().Match(service.Str("stop_grace_period"));
            Assert.True(grace.Success, $"{name}: stop_grace_period '{service.Str("stop_grace_period")}' is not in seconds or minutes.");
            int seconds = int.Parse(grace.Groups["value"].Value, CultureInfo.InvariantCulture) * (grace.Groups["unit"].Value == "m" ? 60 : 1);
            Assert.True(seconds > shutdown, $"{name}: stop_grace_period ({seconds} s) must exceed the shutdown timeout ({shutdown} s), or docker kills the host mid-handoff.");
        }
    }

    [Fact]
    public void Hosts_publish_distinct_ports_onto_the_port_they_listen_on()
    {
        string imagePort = Dockerfile.Load().Runtime.Environment()["HTTP_PORT"];
        var published = new List<string>();
        foreach (var (name, service) in Hosts)
        {
            string listens = Environment(service).GetValueOrDefault("HTTP_PORT", imagePort);
            string mapping = ((YamlScalarNode)Assert.Single(service.Seq("ports"))).Value!;
            string[] parts = mapping.Split(':');
            Assert.True(parts.Length == 2, $"{name}: port mapping '{mapping}' is not host:container.");
            Assert.Equal(listens, parts[1]);
            published.Add(parts[0]);
        }

        Assert.Equal(published.Count, published.Distinct(StringComparer.Ordinal).Count());
    }

    /// <summary>A service's environment (mapping form), interpolated; required variables (<c>${X:?msg}</c>) get test values.</summary>
    private static Dictionary<string, string> Environment(YamlMappingNode service) =>
        service.Scalars("environment").ToDictionary(pair => pair.Key, pair => Interpolate(pair.Value), StringComparer.Ordinal);

    private static string Interpolate(string value) => Variable().Replace(value, match => match.Groups["name"].Value switch
    {
        "API_KEY" when match.Groups["op"].Value == ":?" => ApiKey,
        "KEY_ENCRYPTION_KEY" when match.Groups["op"].Value == ":?" => "q6V0jOQ3m1rX0yqJ8m0e6K8h4fN2sVb1tZ9cW5dY3aE=",
        _ when match.Groups["op"].Value == ":-" => match.Groups["arg"].Value,
        _ => throw new Xunit.Sdk.XunitException($"compose.yaml uses {match.Value}, which this test cannot resolve."),
    });

    [GeneratedRegex(@"\$\{(?<name>[A-Z_][A-Z0-9_]*)(?<op>:-|:\?)?(?<arg>[^}]*)\}")]
    private static partial Regex Variable();

    [GeneratedRegex(@"^(?<value>[0-9]+)(?<unit>s|m)$")]
    private static partial Regex GraceDuration();
}
