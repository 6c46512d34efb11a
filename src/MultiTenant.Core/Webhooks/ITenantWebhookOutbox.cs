namespace MultiTenant.Webhooks;

/// <summary>
/// The outbox of outbound webhooks: the events waiting to be delivered to tenants' subscriptions, in order per tenant. Registered by
/// <c>AddWhatsAppTenants()</c> as the embedded <see cref="InMemoryTenantWebhookStore"/>; <c>UsePostgreSql()</c> replaces it with a
/// durable one. Thread-safe.
/// </summary>
/// <remarks>
/// Only a tenant's oldest pending item is ever handed out (<see cref="ClaimAsync"/>), so deliveries keep the tenant's order; the claim
/// is a lease, so a sender that dies releases the item when the lease runs out. Items are keyed by (tenant, event id): enqueueing an
/// event id twice stores it once (a redelivered event is absorbed while its item is kept, see <see cref="PurgeAsync"/>).
/// </remarks>
public interface ITenantWebhookOutbox
{
    /// <summary>
    /// Queues an event for <paramref name="tenant"/>'s subscription, in one step with the check that the tenant has a subscription
    /// that accepts <paramref name="eventType"/>.
    /// </summary>
    /// <param name="tenant">The tenant.</param>
    /// <param name="eventId">The event's id, 1–255 characters: unique per tenant, the same for every redelivery of one event.</param>
    /// <param name="eventType">The event type (<see cref="WebhookEventTypes"/>).</param>
    /// <param name="body">The JSON body to post.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns><see langword="true"/> when queued; <see langword="false"/> when no subscription accepts it or the id is already queued.</returns>
    ValueTask<bool> EnqueueAsync(TenantId tenant, string eventId, string eventType, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default);

    /// <summary>
    /// Leases <paramref name="tenant"/>'s oldest pending item to <paramref name="sender"/> for <paramref name="lease"/> and counts an
    /// attempt, if that item is due and not leased by another sender. Returns <see langword="null"/> otherwise: the items behind it wait.
    /// </summary>
    ValueTask<WebhookOutboxItem?> ClaimAsync(TenantId tenant, Guid sender, TimeSpan lease, CancellationToken cancellationToken = default);

    /// <summary>Marks a leased item delivered. <see langword="false"/> when <paramref name="sender"/> no longer holds it.</summary>
    ValueTask<bool> CompleteAsync(TenantId tenant, long itemId, Guid sender, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records a failed attempt of a leased item: due again at <paramref name="retryAt"/>, or a dead letter when it is
    /// <see langword="null"/>. <paramref name="error"/> (a short description, never a secret) is kept. <see langword="false"/> when
    /// <paramref name="sender"/> no longer holds the item.
    /// </summary>
    ValueTask<bool> FailAsync(TenantId tenant, long itemId, Guid sender, string error, DateTimeOffset? retryAt, CancellationToken cancellationToken = default);

    /// <summary>
    /// When <paramref name="tenant"/>'s oldest pending item may be claimed next (its due time, or the end of another sender's lease),
    /// or <see langword="null"/> when the tenant has no pending item.
    /// </summary>
    ValueTask<DateTimeOffset?> GetNextAttemptAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="maxTenants"/> tenants whose oldest pending item may be claimed now, in no particular order.</summary>
    ValueTask<IReadOnlyList<TenantId>> ListDueTenantsAsync(int maxTenants, CancellationToken cancellationToken = default);

    /// <summary>A page of <paramref name="tenant"/>'s dead letters, in order, after item id <paramref name="afterId"/>.</summary>
    ValueTask<IReadOnlyList<WebhookOutboxItem>> ListDeadAsync(TenantId tenant, long afterId, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes <paramref name="tenant"/>'s dead letter <paramref name="itemId"/> pending again, queued anew: attempts from zero, a new
    /// <see cref="WebhookDeliveryOptions.RetryPeriod"/> from now, due at once. It keeps its place in the tenant's order (it goes out
    /// before the events queued after it). <see langword="false"/> when the tenant has no dead letter <paramref name="itemId"/>.
    /// </summary>
    ValueTask<bool> RetryDeadAsync(TenantId tenant, long itemId, CancellationToken cancellationToken = default);

    /// <summary>Makes every dead letter of <paramref name="tenant"/> pending again, as <see cref="RetryDeadAsync"/> does; returns how many.</summary>
    ValueTask<int> RetryAllDeadAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>How many of <paramref name="tenant"/>'s items are in each state.</summary>
    ValueTask<WebhookOutboxCounts> CountAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>Deletes delivered items completed before <paramref name="completedBefore"/>; returns how many.</summary>
    ValueTask<int> PurgeAsync(DateTimeOffset completedBefore, CancellationToken cancellationToken = default);
}

/// <summary>One event in the outbox.</summary>
public sealed class WebhookOutboxItem
{
    /// <summary>The item's id: increasing in the order events were queued.</summary>
    public long Id { get; init; }

    /// <summary>The tenant.</summary>
    public TenantId Tenant { get; init; }

    /// <summary>The event id, sent as <c>X-MultiTenant-Event-Id</c>: the receiver de-duplicates by it.</summary>
    public string EventId { get; init; } = string.Empty;

    /// <summary>The event type.</summary>
    public string EventType { get; init; } = string.Empty;

    /// <summary>The JSON body.</summary>
    public ReadOnlyMemory<byte> Body { get; init; }

    /// <summary>When the event was queued.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Attempts so far, the current one included when the item was just claimed.</summary>
    public int Attempts { get; init; }

    /// <summary>The last failure, when there was one.</summary>
    public string? LastError { get; init; }
}

/// <summary>How many items of a tenant are in each state.</summary>
/// <param name="Pending">Waiting to be delivered (or being delivered).</param>
/// <param name="Delivered">Delivered, kept for de-duplication until purged.</param>
/// <param name="Dead">Dead letters: given up after the retry period, or the subscription was deleted.</param>
public readonly record struct WebhookOutboxCounts(int Pending, int Delivered, int Dead);

/// <summary>Argument checks of <see cref="ITenantWebhookOutbox"/>, shared by the stores of every backend.</summary>
public static class WebhookOutboxArguments
{
    /// <summary>The longest event id: 255 characters.</summary>
    public const int MaxEventIdLength = 255;

    /// <summary>Throws <see cref="ArgumentException"/> for a default tenant, an empty or too long event id, or an unknown event type.</summary>
    public static void ThrowIfInvalid(TenantId tenant, string eventId, string eventType)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        ArgumentNullException.ThrowIfNull(eventId);
        ArgumentNullException.ThrowIfNull(eventType);
        if (eventId.Length is 0 or > MaxEventIdLength)
        {
            throw new ArgumentException($"The event id must be 1 to {MaxEventIdLength} characters.", nameof(eventId));
        }

        if (eventType == WebhookEventTypes.All || !WebhookEventTypes.IsValid(eventType))
        {
            throw new ArgumentException($"Unknown event type '{eventType}'.", nameof(eventType));
        }
    }
}
