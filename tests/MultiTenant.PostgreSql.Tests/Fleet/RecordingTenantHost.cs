using System.Collections.Concurrent;
using MultiTenant.Clients;
using MultiTenant.Hosting;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>
/// An <see cref="ITenantHost"/> for the fleet's parts tested alone (reconciler, send relay): it records what placement asks of it
/// (activations with their epochs, deactivations with their reasons, local sends) and answers local sends with <see cref="Send"/>.
/// </summary>
internal sealed class RecordingTenantHost(string hostId) : ITenantHost
{
    private readonly ConcurrentDictionary<TenantId, TenantStatus> _local = new();

    public string HostId { get; } = hostId;

    public bool IsStopping { get; set; }

    /// <summary>Every activation, in order.</summary>
    public ConcurrentQueue<(TenantId Tenant, long Epoch)> Activations { get; } = new();

    /// <summary>Every deactivation, in order.</summary>
    public ConcurrentQueue<(TenantId Tenant, TenantDeactivationReason Reason)> Deactivations { get; } = new();

    /// <summary>Every local send, in order.</summary>
    public ConcurrentQueue<(TenantId Tenant, OutboundMessage Message)> Sends { get; } = new();

    /// <summary>Answers a local send (default: a message id naming this host, the tenant and the text).</summary>
    public Func<TenantId, OutboundMessage, SendMessageResult> Send { get; set; } = (tenant, message) => new($"{hostId}/{tenant}/{message.Text}");

    /// <summary>The tenants running here now.</summary>
    public IEnumerable<TenantId> Running => _local.Where(p => p.Value.State == TenantState.Connected).Select(p => p.Key);

    public bool Activate(TenantId tenant, long ownershipEpoch)
    {
        Activations.Enqueue((tenant, ownershipEpoch));
        var now = DateTimeOffset.UtcNow;
        _local[tenant] = new TenantStatus(tenant, TenantState.Connected, now, now, null, null);
        return true;
    }

    public Task<TenantStatus?> DeactivateAsync(TenantId tenant, TenantDeactivationReason reason)
    {
        Deactivations.Enqueue((tenant, reason));
        if (!_local.TryGetValue(tenant, out var status))
        {
            return Task.FromResult<TenantStatus?>(null);
        }

        var stopped = status with { State = TenantState.Stopped, UpdatedAt = DateTimeOffset.UtcNow };
        _local[tenant] = stopped;
        return Task.FromResult<TenantStatus?>(stopped);
    }

    public TenantStatus? GetLocalStatus(TenantId tenant) => _local.GetValueOrDefault(tenant);

    public Task<SendMessageResult> SendLocalAsync(TenantId tenant, OutboundMessage message, CancellationToken cancellationToken)
    {
        Sends.Enqueue((tenant, message));
        return Task.FromResult(Send(tenant, message));
    }
}
