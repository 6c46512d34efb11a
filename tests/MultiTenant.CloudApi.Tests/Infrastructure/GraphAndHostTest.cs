namespace MultiTenant.CloudApi.Tests.Infrastructure;

/// <summary>A test class with a fake Graph API on loopback and a Cloud API host started against it, both fresh per test.</summary>
public abstract class GraphAndHostTest : IAsyncLifetime
{
    /// <summary>The fake Graph API.</summary>
    protected FakeGraphApi Graph { get; private set; } = null!;

    /// <summary>The host under test.</summary>
    protected CloudApiTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Graph = await FakeGraphApi.StartAsync();
        Host = await CloudApiTestHost.StartAsync(Graph);
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Graph.DisposeAsync();
    }
}
