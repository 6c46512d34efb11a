using System.Net.Http.Headers;
using System.Text;

namespace MultiTenant.Dashboard.Tests.Infrastructure;

/// <summary>
/// The sample server (its build output, with the simulated client) as a process on a loopback port, with an admin key of its own and
/// the simulator settings the screenshots need: <see cref="UnpairedTenant"/> fails to start (error state), <see cref="PairingTenant"/>
/// waits on a simulated QR code for ever, and every connected tenant receives 2 synthetic messages a second.
/// </summary>
public sealed class SampleHost : IAsyncLifetime
{
    public const string AdminKey = "wt_dashboard-browser-test-admin-key";
    public const string UnpairedTenant = "broken1";
    public const string PairingTenant = "pairing1";

    private readonly string _home = Directory.CreateTempSubdirectory("mt-dashboard-test-").FullName;
    private SampleProcess? _process;

    /// <summary>The repository root, from the sample's path (<c>samples/MultiTenant.Sample/bin/…</c>).</summary>
    public static string RepositoryRoot { get; } =
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(SampleProcess.BuiltSampleDll(typeof(SampleHost).Assembly))!, "..", "..", "..", "..", ".."));

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>An API client with the admin key.</summary>
    public HttpClient Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _process = SampleProcess.StartBuilt(
            typeof(SampleHost).Assembly,
            new Dictionary<string, string>
            {
                ["API_KEY"] = AdminKey,
                ["HOME"] = _home, // the host's Data Protection key ring (the dashboard cookie) lives under it
                ["DOTNET_NOLOGO"] = "1",
                ["Logging__LogLevel__Default"] = "Warning",
                ["Simulator__UnpairedTenants__0"] = UnpairedTenant,
                ["Simulator__PairingTenants__0"] = PairingTenant,
                ["Simulator__ConnectDelayMin"] = "00:00:00.300",
                ["Simulator__ConnectDelayMax"] = "00:00:00.600",
                ["Simulator__MessagesPerSecond"] = "2", // inbound traffic, so the message counts move
            },
            id: "dashboard-sample");
        BaseAddress = _process.BaseAddress;
        Api = new HttpClient { BaseAddress = BaseAddress };
        Api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        await _process.WaitUntilListeningAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>Starts <paramref name="tenant"/> through the API (201).</summary>
    public async Task StartAsync(string tenant)
    {
        using var body = new StringContent($$"""{"business_id":"{{tenant}}"}""", Encoding.UTF8, "application/json");
        using var response = await Api.PostAsync("/api/tenants", body);
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, $"Starting {tenant}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Sends a text message through <paramref name="tenant"/> via the API (202).</summary>
    public async Task SendAsync(string tenant)
    {
        using var body = new StringContent("""{"to":"15550001111","text":"hello from the browser test"}""", Encoding.UTF8, "application/json");
        using var response = await Api.PostAsync($"/api/tenants/{tenant}/messages", body);
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Accepted, $"Sending through {tenant}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>The tenant's status as the API reports it.</summary>
    public async Task<string> StatusAsync(string tenant)
    {
        using var response = await Api.GetAsync($"/api/tenants/{tenant}");
        using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("status").GetString()!;
    }

    public string Output() => _process?.OutputTail() ?? string.Empty;

    public async Task DisposeAsync()
    {
        Api?.Dispose();
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        Directory.Delete(_home, recursive: true);
    }
}

/// <summary>One sample process and one browser for every browser test.</summary>
[CollectionDefinition(Name)]
public sealed class DashboardCollection : ICollectionFixture<SampleHost>, ICollectionFixture<DashboardBrowser>
{
    public const string Name = "Dashboard in a browser";
}
