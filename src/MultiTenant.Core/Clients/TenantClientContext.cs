using Microsoft.Extensions.Logging;
using MultiTenant.Events;
using MultiTenant.Storage;

namespace MultiTenant.Clients;

/// <summary>What a tenant's client receives from the coordinator: its identity, its event writer, its state store and a logger.</summary>
public sealed class TenantClientContext
{
    private readonly ITenantConnectionSink _connection;

    internal TenantClientContext(
        TenantId businessId,
        ITenantEventWriter events,
        ITenantStateStore state,
        ILogger logger,
        TimeProvider timeProvider,
        ITenantConnectionSink connection,
        long ownershipEpoch)
    {
        OwnershipEpoch = ownershipEpoch;
        BusinessId = businessId;
        Events = events;
        State = state;
        Logger = logger;
        TimeProvider = timeProvider;
        _connection = connection;
    }

    /// <summary>The tenant this client serves.</summary>
    public TenantId BusinessId { get; }

    /// <summary>Where the client writes the tenant's events (messages, receipts, ...). Waits when the tenant's queue is full.</summary>
    public ITenantEventWriter Events { get; }

    /// <summary>The tenant's own client state (device, keys, sessions). Bound to this tenant: it cannot name another tenant's rows.</summary>
    public ITenantStateStore State { get; }

    /// <summary>A logger whose scope carries the business id.</summary>
    public ILogger Logger { get; }

    /// <summary>
    /// The epoch under which this run owns the tenant: <see cref="Hosting.TenantOwnership.SingleHostEpoch"/> (0) on a single host, the
    /// lease's fencing epoch in a fleet. A later owner always has a higher epoch, so a client can fence side effects outside the
    /// library's database (a remote API that accepts a monotonic token, its own storage) with it. Writes through <see cref="State"/> are
    /// fenced by it already.
    /// </summary>
    public long OwnershipEpoch { get; }

    /// <summary>The clock to use for every timer, delay and timestamp.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>
    /// Reports that an established connection was lost. The supervisor moves the tenant to <see cref="TenantState.Disconnected"/>
    /// and reconnects (immediately, then with backoff). Calls outside a connection are ignored. Never blocks.
    /// </summary>
    public void ReportDisconnected(string? reason = null) => _connection.OnDisconnected(reason);

    /// <summary>
    /// Reports a fatal condition (logged out, stream replaced, ...). The supervisor disconnects the client and moves the tenant to
    /// <see cref="TenantState.Error"/> with <paramref name="message"/> as its error; it is not retried until started again. Never blocks.
    /// </summary>
    public void ReportFatal(TenantFatalReason reason, string message) => _connection.OnFatal(reason, message);
}

/// <summary>Receives a client's connection reports; implemented by the tenant's supervisor.</summary>
internal interface ITenantConnectionSink
{
    void OnDisconnected(string? reason);

    void OnFatal(TenantFatalReason reason, string message);
}
