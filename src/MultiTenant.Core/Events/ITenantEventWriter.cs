namespace MultiTenant.Events;

/// <summary>Where a tenant's client writes its events. One writer per tenant; safe to call from several threads.</summary>
public interface ITenantEventWriter
{
    /// <summary>
    /// Queues <paramref name="tenantEvent"/> for the tenant's handlers. Completes when the event is queued; waits while the tenant's
    /// queue is full (backpressure, lossless by default). Allocates nothing when the queue has room.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting for room.</exception>
    /// <exception cref="System.Threading.Channels.ChannelClosedException">The tenant stopped and its queue accepts no more events.</exception>
    ValueTask WriteAsync(TenantEvent tenantEvent, CancellationToken cancellationToken = default);

    /// <summary>
    /// Queues <paramref name="tenantEvent"/> and completes when every handler has returned for it (whether or not a handler threw).
    /// Use it to acknowledge a message to the server only once it was handled.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled, or an explicitly chosen lossy
    /// queue policy (<see cref="EventQueueFullMode.DropOldest"/>/<see cref="EventQueueFullMode.DropNewest"/>) dropped the event: it was
    /// not handled, so do not acknowledge it.</exception>
    /// <exception cref="System.Threading.Channels.ChannelClosedException">The tenant stopped and its queue accepts no more events.</exception>
    ValueTask DeliverAsync(TenantEvent tenantEvent, CancellationToken cancellationToken = default);
}

/// <summary>
/// Handles tenants' events. Registered in DI (<c>AddEventHandler&lt;T&gt;()</c>) as a singleton shared by all tenants.
/// </summary>
/// <remarks>Within a tenant, events arrive one at a time in order; different tenants call handlers in parallel.
/// A handler that throws is logged and counted and routing goes on. A slow handler delays only its own tenant.</remarks>
public interface ITenantEventHandler
{
    /// <summary>Handles one event of <paramref name="tenant"/>.</summary>
    /// <param name="tenant">The tenant the event belongs to.</param>
    /// <param name="tenantEvent">The event.</param>
    /// <param name="cancellationToken">Cancelled when the host's shutdown timeout runs out.</param>
    ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken);
}
