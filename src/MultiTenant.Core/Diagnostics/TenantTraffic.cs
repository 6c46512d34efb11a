namespace MultiTenant.Diagnostics;

/// <summary>
/// What a tenant did on this host: messages received (<see cref="MessagesIn"/>: message events handled) and sent
/// (<see cref="MessagesOut"/>: sends its client accepted) since this process first ran it, the same events that
/// <c>whatsmeow_tenant_messages_total</c> counts, and the events waiting in its queue now (<see cref="QueueDepth"/>). The counts are
/// kept while this host keeps the tenant's supervisor: across its reconnects and restarts, and dropped once it is stopped and its
/// stopped status is written (a stopped tenant holds no memory), so they start again from 0 at its next start.
/// </summary>
/// <param name="MessagesIn">Message events handled while this host kept the tenant.</param>
/// <param name="MessagesOut">Messages sent while this host kept the tenant.</param>
/// <param name="QueueDepth">Events waiting in the tenant's queue now.</param>
public readonly record struct TenantTraffic(long MessagesIn, long MessagesOut, int QueueDepth);

/// <summary>This host's sums over the tenants it runs (for the dashboard's per-host summary).</summary>
/// <param name="Tenants">This host's tenants by state (<see cref="TenantCounts.Total"/>: every state but stopped).</param>
/// <param name="MessagesIn">Messages received by the tenants this host keeps (<see cref="TenantTraffic.MessagesIn"/> summed).</param>
/// <param name="MessagesOut">Messages sent by the tenants this host keeps (<see cref="TenantTraffic.MessagesOut"/> summed).</param>
/// <param name="QueueDepth">Events waiting in this host's tenant queues now (<c>whatsmeow_queue_depth</c>).</param>
public readonly record struct TenantHostTraffic(TenantCounts Tenants, long MessagesIn, long MessagesOut, long QueueDepth);

/// <summary>
/// Reads the message counts and queue depths of the tenants this host runs, without I/O: counters kept in memory by each tenant's
/// supervisor (no allocation per message, one interlocked increment). Registered by <c>AddWhatsAppTenants()</c> (the coordinator).
/// A tenant that another host of a fleet runs has no traffic here.
/// </summary>
public interface ITenantTrafficReader
{
    /// <summary>The traffic of <paramref name="tenant"/>; <see langword="false"/> when this host does not keep it (never ran it here, or it stopped).</summary>
    bool TryGetTraffic(TenantId tenant, out TenantTraffic traffic);

    /// <summary>This host's sums; a walk over the tenants it knows, so call it at an interval, not per event.</summary>
    TenantHostTraffic GetHostTraffic();
}

/// <summary>A tenant's message counters, kept by its supervisor across runs on this host.</summary>
internal sealed class TenantTrafficCounter
{
    private long _in;
    private long _out;

    public long In => Volatile.Read(ref _in);

    public long Out => Volatile.Read(ref _out);

    public void CountIn() => Interlocked.Increment(ref _in);

    public void CountOut() => Interlocked.Increment(ref _out);
}
