namespace MultiTenant.Inbox;

/// <summary>
/// The durable inbox of webhook-based backends (SPEC §11): any host writes verified deliveries into it, the host that runs the tenant
/// consumes them in order and marks each done only once every handler succeeded. Backend-neutral: the Cloud API is its first user, and
/// any engine that receives events by HTTP writes into it the same way.
/// </summary>
/// <remarks>
/// <para>Items are keyed by (tenant, <see cref="InboxWrite.Key"/>): writing a key that exists already is absorbed (a duplicate), whatever
/// state the item is in, so a provider's redeliveries are handled once. Within a tenant items are consumed in the order they were
/// written; tenants are independent.</para>
/// <para>Consumption: <see cref="ClaimAsync"/> returns the tenant's oldest pending items in order, stopping at the first one that is not
/// due yet (a failed item waiting for its retry holds back the items after it) or that another consumer holds. Each claim counts an
/// attempt. The consumer then <see cref="CompleteAsync"/>s or <see cref="FailAsync"/>s each item. A new consumer of a tenant (after a
/// restart, or on the new owner after a handover) calls <see cref="ResetClaimsAsync"/> first, which frees the claims of earlier
/// consumers with an ownership epoch not above its own.</para>
/// <para>Time (due dates, received and completed times) comes from the store's <see cref="TimeProvider"/>. Thread-safe.</para>
/// </remarks>
public interface ITenantInbox
{
    /// <summary>
    /// Writes <paramref name="items"/> (any tenants) in one transaction: when it returns, every item is stored (or was already), and
    /// when it throws none of them is new. Items of one tenant keep their order in the list.
    /// </summary>
    /// <exception cref="ArgumentException">An item is not valid.</exception>
    ValueTask<InboxWriteResult> WriteAsync(IReadOnlyList<InboxWrite> items, CancellationToken cancellationToken = default);

    /// <summary>
    /// Claims up to <paramref name="maxItems"/> of the tenant's pending items for <paramref name="consumer"/>, in order: the oldest
    /// first, stopping before the first item that is not due or is held by another consumer of the same or a higher epoch. Each claimed
    /// item's <see cref="InboxItem.Attempts"/> is incremented.
    /// </summary>
    ValueTask<IReadOnlyList<InboxItem>> ClaimAsync(TenantId tenant, InboxConsumer consumer, int maxItems, CancellationToken cancellationToken = default);

    /// <summary>
    /// Frees every claim on the tenant's items made by consumers with an epoch at most <paramref name="ownershipEpoch"/>, so that a new
    /// consumer resumes what a previous one (stopped, crashed or moved away) left claimed. Returns how many claims were freed.
    /// </summary>
    ValueTask<int> ResetClaimsAsync(TenantId tenant, long ownershipEpoch, CancellationToken cancellationToken = default);

    /// <summary>
    /// Frees <paramref name="consumer"/>'s claims on <paramref name="itemIds"/> and takes back the attempt each claim counted: the
    /// consumer never delivered them (they were held back behind a failed item, or it stopped first), so they must not come closer
    /// to <see cref="InboxDeliveryOptions.MaxAttempts"/>. Items the consumer no longer holds are left alone. Returns how many were freed.
    /// </summary>
    ValueTask<int> ReleaseAsync(TenantId tenant, IReadOnlyList<long> itemIds, InboxConsumer consumer, CancellationToken cancellationToken = default);

    /// <summary>Marks a claimed item done. <see langword="false"/> when <paramref name="consumer"/> no longer holds its claim.</summary>
    ValueTask<bool> CompleteAsync(TenantId tenant, long itemId, InboxConsumer consumer, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records a failed attempt of a claimed item and frees its claim: the item is due again at <paramref name="retryAt"/>, or, when
    /// <paramref name="retryAt"/> is <see langword="null"/>, it becomes a dead letter (<see cref="InboxItemState.DeadLetter"/>) and no
    /// longer holds back the tenant's later items. <paramref name="error"/> is kept (at most 1,000 characters; it must be safe to show:
    /// no exception text or secrets). <see langword="false"/> when <paramref name="consumer"/> no longer holds the claim.
    /// </summary>
    ValueTask<bool> FailAsync(TenantId tenant, long itemId, InboxConsumer consumer, string error, DateTimeOffset? retryAt, CancellationToken cancellationToken = default);

    /// <summary>The tenant's dead letters in order, at most <paramref name="limit"/>, after the item id <paramref name="afterId"/> (paging).</summary>
    ValueTask<IReadOnlyList<InboxItem>> ListDeadLettersAsync(TenantId tenant, int limit, long afterId = 0, CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes a dead letter pending again, due now, with its attempts reset; it keeps its place in the tenant's order (before the items
    /// written after it). <see langword="false"/> when the tenant has no dead letter with that id.
    /// </summary>
    ValueTask<bool> RetryAsync(TenantId tenant, long itemId, CancellationToken cancellationToken = default);

    /// <summary>Makes every dead letter of the tenant pending again, as <see cref="RetryAsync"/>. Returns how many.</summary>
    ValueTask<int> RetryAllAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>Counts the tenant's items by state.</summary>
    ValueTask<InboxCounts> CountAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes the done items completed before <paramref name="completedBefore"/> (all tenants). Until then a done item keeps absorbing
    /// redeliveries of its key. Returns how many were deleted.
    /// </summary>
    ValueTask<int> PurgeCompletedAsync(DateTimeOffset completedBefore, CancellationToken cancellationToken = default);

    /// <summary>
    /// Keeps items addressed to <paramref name="address"/>, which no tenant holds yet (a delivery that raced the tenant's credential setup),
    /// so they are not lost: <see cref="AdoptUnroutedAsync"/> moves them into the inbox of the tenant that claims the address. Bounded:
    /// when <paramref name="capacity"/> items are kept already (all addresses), nothing is written and the result is <see langword="false"/>
    /// (the caller answers so that the provider delivers again later). Keys already kept for the address are absorbed.
    /// </summary>
    /// <param name="address">The address the items were sent to.</param>
    /// <param name="items">The items; their <see cref="InboxWrite.Tenant"/> is ignored.</param>
    /// <param name="capacity">The most items kept for all addresses together.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask<bool> WriteUnroutedAsync(TenantAddress address, IReadOnlyList<InboxWrite> items, int capacity, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves the items kept for <paramref name="address"/> into <paramref name="tenant"/>'s inbox (in the order they arrived; keys the
    /// tenant has already are absorbed), in one transaction. Returns how many were moved.
    /// </summary>
    ValueTask<int> AdoptUnroutedAsync(TenantAddress address, TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>How many items are kept for addresses no tenant holds.</summary>
    ValueTask<long> CountUnroutedAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Completes when items may have been written for <paramref name="tenant"/> since the call (on any host, where the backend can tell:
    /// PostgreSQL notifies), or when <paramref name="cancellationToken"/> is cancelled. Consumers also poll, so a lost signal only delays.
    /// </summary>
    Task WaitForItemsAsync(TenantId tenant, CancellationToken cancellationToken);
}

/// <summary>One item to write into the inbox.</summary>
/// <param name="Tenant">The tenant it belongs to.</param>
/// <param name="Key">Its key within the tenant: the provider's id of the message or event (for example <c>m/wamid.…</c>); the duplicate
/// detector and the event id handlers see. 1–255 characters without control characters.</param>
/// <param name="Source">Who wrote it and decodes it (<c>cloudapi</c>, …; see <see cref="IInboxEventDecoder"/>): 1–64 characters of <c>a-z 0-9 . _ -</c>.</param>
/// <param name="Kind">What it is within the source (<c>message</c>, <c>status</c>, …), same rule as <paramref name="Source"/>.</param>
/// <param name="Payload">The item, as the source encodes it (at most 1 MiB).</param>
public sealed record InboxWrite(TenantId Tenant, string Key, string Source, string Kind, ReadOnlyMemory<byte> Payload)
{
    /// <summary>The largest payload: 1 MiB.</summary>
    public const int MaxPayloadBytes = 1024 * 1024;

    /// <summary>Validates the item.</summary>
    /// <exception cref="ArgumentException">It is not valid.</exception>
    public void ThrowIfInvalid()
    {
        InboxNames.ThrowIfDefault(Tenant, nameof(Tenant));
        InboxNames.ThrowIfInvalidKey(Key, nameof(Key));
        InboxNames.ThrowIfInvalidName(Source, nameof(Source));
        InboxNames.ThrowIfInvalidName(Kind, nameof(Kind));
        if (Payload.Length > MaxPayloadBytes)
        {
            throw new ArgumentException($"An inbox payload must be at most {MaxPayloadBytes} bytes.", nameof(Payload));
        }
    }
}

/// <summary>What <see cref="ITenantInbox.WriteAsync"/> did.</summary>
/// <param name="Added">Items that were new.</param>
/// <param name="Duplicates">Items whose key the tenant had already (absorbed).</param>
public readonly record struct InboxWriteResult(int Added, int Duplicates);

/// <summary>A consumer of a tenant's inbox: a unique id per consumer, and the ownership epoch of the run it belongs to.</summary>
/// <param name="Id">Unique per consumer (a new one for every run).</param>
/// <param name="OwnershipEpoch">The epoch under which the run owns the tenant (<see cref="Hosting.TenantOwnership.SingleHostEpoch"/> on a single host).</param>
public readonly record struct InboxConsumer(Guid Id, long OwnershipEpoch);

/// <summary>The states of an inbox item.</summary>
public enum InboxItemState
{
    /// <summary>Waiting to be handled (or being handled, when claimed).</summary>
    Pending = 0,

    /// <summary>Handled: every handler succeeded.</summary>
    Done = 1,

    /// <summary>Failed the configured number of attempts; waits for a retry through the API.</summary>
    DeadLetter = 2,
}

/// <summary>An item of a tenant's inbox.</summary>
/// <param name="Id">Its id: increasing in write order (within a tenant, the consumption order).</param>
/// <param name="Tenant">The tenant.</param>
/// <param name="Key">Its key (the stable event id handlers de-duplicate by).</param>
/// <param name="Source">Who wrote it.</param>
/// <param name="Kind">What it is within the source.</param>
/// <param name="Payload">The encoded item.</param>
/// <param name="ReceivedAt">When it was written.</param>
/// <param name="State">Its state.</param>
/// <param name="Attempts">Delivery attempts started (claims).</param>
/// <param name="NextAttemptAt">When it is due (pending items).</param>
/// <param name="LastError">The last failure's description, when it failed.</param>
public sealed record InboxItem(
    long Id,
    TenantId Tenant,
    string Key,
    string Source,
    string Kind,
    ReadOnlyMemory<byte> Payload,
    DateTimeOffset ReceivedAt,
    InboxItemState State,
    int Attempts,
    DateTimeOffset NextAttemptAt,
    string? LastError);

/// <summary>A tenant's inbox items by state.</summary>
/// <param name="Pending">Waiting to be handled.</param>
/// <param name="Done">Handled and still kept for de-duplication.</param>
/// <param name="DeadLetters">Dead letters.</param>
public readonly record struct InboxCounts(long Pending, long Done, long DeadLetters);
