namespace MultiTenant.Idempotency;

/// <summary>
/// Where the API's <c>Idempotency-Key</c>s of message sends live, per tenant, for <see cref="TenantIdempotency.Retention"/> (24 h):
/// the hash of the request that first used a key, its state and, once sent, the message id. Every host of a fleet reads the same store
/// (PostgreSQL), so a retry that reaches another host is answered with the same message id and sends nothing. Thread-safe.
/// </summary>
/// <remarks>
/// The protocol: <see cref="BeginAsync"/> claims a key (<see cref="IdempotencyState.Started"/>: the caller sends, then calls
/// <see cref="CompleteAsync"/> with the message id, or <see cref="ReleaseAsync"/> when nothing was sent, so a retry may send). Any
/// other state is the answer to give instead of sending. A claim older than <see cref="TenantIdempotency.InProgressTimeout"/> that
/// was neither completed nor released (its host died mid-send) may be claimed again by a request with the same hash.
/// </remarks>
public interface ITenantIdempotencyStore
{
    /// <summary>Claims <paramref name="key"/> of <paramref name="tenant"/> for a request whose hash is <paramref name="requestHash"/>.</summary>
    /// <param name="tenant">The tenant the key belongs to (keys of different tenants never meet).</param>
    /// <param name="key">The key, valid by <see cref="TenantIdempotency.ValidateKey"/>.</param>
    /// <param name="requestHash">The SHA-256 hash of the request (32 bytes).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>
    /// <see cref="IdempotencyState.Started"/> when this call claimed the key; <see cref="IdempotencyState.Completed"/> with the
    /// message id of the first request; <see cref="IdempotencyState.InProgress"/> while another request with the same hash holds it;
    /// <see cref="IdempotencyState.Mismatch"/> when the key was used for a different request.
    /// </returns>
    /// <exception cref="ArgumentException">An argument is invalid.</exception>
    ValueTask<IdempotencyResult> BeginAsync(TenantId tenant, string key, ReadOnlyMemory<byte> requestHash, CancellationToken cancellationToken = default);

    /// <summary>Records that the claimed request sent message <paramref name="messageId"/>; later requests with the key get it.</summary>
    ValueTask CompleteAsync(TenantId tenant, string key, string messageId, CancellationToken cancellationToken = default);

    /// <summary>Drops an unfinished claim (nothing was sent), so a retry with the key sends.</summary>
    ValueTask ReleaseAsync(TenantId tenant, string key, CancellationToken cancellationToken = default);
}

/// <summary>What <see cref="ITenantIdempotencyStore.BeginAsync"/> found.</summary>
public enum IdempotencyState
{
    /// <summary>The key was free (or expired): the caller claimed it and sends.</summary>
    Started,

    /// <summary>Another request with the same key and body is being sent.</summary>
    InProgress,

    /// <summary>A request with the same key and body was sent; <see cref="IdempotencyResult.MessageId"/> is its message id.</summary>
    Completed,

    /// <summary>The key was used for a different request.</summary>
    Mismatch,
}

/// <summary>The answer of <see cref="ITenantIdempotencyStore.BeginAsync"/>.</summary>
/// <param name="State">What was found.</param>
/// <param name="MessageId">The message id when <paramref name="State"/> is <see cref="IdempotencyState.Completed"/>, else null.</param>
public readonly record struct IdempotencyResult(IdempotencyState State, string? MessageId);
