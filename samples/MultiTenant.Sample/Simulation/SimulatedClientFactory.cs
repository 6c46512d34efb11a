using System.Text;
using Microsoft.Extensions.Options;
using MultiTenant.Clients;
using MultiTenant.Hosting;

namespace MultiTenant.Sample.Simulation;

/// <summary>Creates <see cref="SimulatedClient"/>s, so the sample runs anywhere without WhatsApp.</summary>
public sealed class SimulatedClientFactory(
    IOptionsMonitor<SimulatorOptions> options, IOptions<TenantCoordinatorOptions> coordinator, TimeProvider time, TenantPairingBoard pairing)
    : ITenantClientFactory, IDisposable
{
    private readonly Lock _auditGate = new();
    private readonly SimulatedTraffic _traffic = new(time, options.CurrentValue.MessagesPerSecond);
    private StreamWriter? _audit;

    public async ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        if (Array.IndexOf(settings.UnpairedTenants, context.BusinessId.Value) >= 0)
        {
            throw new TenantFatalException(TenantFatalReason.NotPaired, "No paired device for this tenant (simulated). Pair a device first.");
        }

        // A real client loads its paired device from the tenant's state store; the simulator "pairs" on first use.
        var device = await context.State.GetAsync("device", "id", cancellationToken).ConfigureAwait(false);
        if (device is null)
        {
            var id = Encoding.UTF8.GetBytes($"sim-device-{context.BusinessId}-{Random.Shared.Next():x8}");
            await context.State.SetAsync("device", "id", id, cancellationToken).ConfigureAwait(false);
        }

        bool mustPair = Array.IndexOf(settings.PairingTenants, context.BusinessId.Value) >= 0;
        var client = new SimulatedClient(context, settings, _traffic, mustPair ? pairing : null);
        if (string.IsNullOrEmpty(settings.AuditFile))
        {
            return client;
        }

        string file = settings.AuditFile;
        long epoch = context.OwnershipEpoch;
        Audit(file, "open", context.BusinessId, epoch);
        return new AuditedClient(client, what => Audit(file, what, context.BusinessId, epoch));
    }

    public void Dispose()
    {
        _traffic.Dispose();
        _audit?.Dispose();
    }

    private void Audit(string file, string what, TenantId tenant, long epoch)
    {
        lock (_auditGate)
        {
            _audit ??= new StreamWriter(new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
            _audit.WriteLine($"{what} {tenant} {coordinator.Value.HostId} {time.GetUtcNow().ToUnixTimeMilliseconds()} {epoch}");
        }
    }

    /// <summary>A client that reports its sends (<c>send</c>, an act for the tenant) and its disposal (<c>close</c>, the end of its ownership).</summary>
    private sealed class AuditedClient(ITenantClient inner, Action<string> audit) : ITenantClient
    {
        public bool IsConnected => inner.IsConnected;

        public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

        public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);

        public ValueTask<bool> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);

        public Task<SendMessageResult> SendMessageAsync(OutboundMessage message, CancellationToken cancellationToken)
        {
            audit("send");
            return inner.SendMessageAsync(message, cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            audit("close");
        }
    }
}
