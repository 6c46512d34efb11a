namespace MultiTenant.Webhooks;

/// <summary>
/// A tenant's outbound webhook subscription: where its events are delivered, which ones, and the (protected) secret they are signed
/// with. One per tenant. Stored by an <see cref="ITenantWebhookSubscriptionStore"/>.
/// </summary>
public sealed class WebhookSubscription
{
    /// <summary>The subscription's id: kept when the subscription is replaced, new when it is deleted and created again.</summary>
    public Guid Id { get; init; }

    /// <summary>The tenant whose events are delivered.</summary>
    public TenantId Tenant { get; init; }

    /// <summary>The absolute <c>http</c> or <c>https</c> URL events are posted to (checked by <see cref="WebhookUrlPolicy"/>).</summary>
    public Uri Url { get; init; } = null!;

    /// <summary>The event types delivered (<see cref="WebhookEventTypes"/>; <see cref="WebhookEventTypes.All"/> for every type).</summary>
    public IReadOnlyList<string> EventTypes { get; init; } = [];

    /// <summary>
    /// The signing secret as protected by <see cref="Secrets.ITenantSecretProtector"/> for <see cref="Tenant"/> and
    /// <see cref="WebhookSubscriptions.SecretPurpose"/>: ciphertext only, never the secret itself.
    /// </summary>
    public ReadOnlyMemory<byte> ProtectedSecret { get; init; }

    /// <summary>When the subscription was created (UTC, microsecond precision).</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it was last replaced (UTC, microsecond precision).</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Whether events of <paramref name="eventType"/> are delivered.</summary>
    public bool Accepts(string eventType) => WebhookEventTypes.Matches(EventTypes, eventType);
}

/// <summary>
/// Stores one outbound webhook subscription per tenant. Registered by <c>AddWhatsAppTenants()</c> as the embedded
/// <see cref="InMemoryTenantWebhookStore"/>; <c>UsePostgreSql()</c> replaces it. Implementations are thread-safe and never look at
/// the secret (they receive it protected).
/// </summary>
public interface ITenantWebhookSubscriptionStore
{
    /// <summary>
    /// Creates or replaces <paramref name="tenant"/>'s subscription. A replaced subscription keeps its <see cref="WebhookSubscription.Id"/>
    /// and <see cref="WebhookSubscription.CreatedAt"/>.
    /// </summary>
    /// <param name="tenant">The tenant.</param>
    /// <param name="url">The target URL (validated by the caller against <see cref="WebhookUrlPolicy"/>).</param>
    /// <param name="eventTypes">The event types (see <see cref="WebhookEventTypes.ThrowIfInvalid"/>).</param>
    /// <param name="protectedSecret">The secret, protected by <see cref="Secrets.ITenantSecretProtector"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored subscription.</returns>
    /// <exception cref="ArgumentException">The tenant is <c>default</c>, the URL is not absolute http(s), the types are invalid or the secret is empty.</exception>
    ValueTask<WebhookSubscription> PutAsync(TenantId tenant, Uri url, IReadOnlyList<string> eventTypes, ReadOnlyMemory<byte> protectedSecret, CancellationToken cancellationToken = default);

    /// <summary>Reads <paramref name="tenant"/>'s subscription, or <see langword="null"/> when it has none.</summary>
    ValueTask<WebhookSubscription?> GetAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes <paramref name="tenant"/>'s subscription; its events not delivered yet are not sent any more (they stay in the outbox as
    /// dead letters). Returns <see langword="false"/> when it had none.
    /// </summary>
    ValueTask<bool> DeleteAsync(TenantId tenant, CancellationToken cancellationToken = default);
}

/// <summary>Constants and argument checks shared by the webhook stores of every backend.</summary>
public static class WebhookSubscriptions
{
    /// <summary>The <see cref="Secrets.ITenantSecretProtector"/> purpose of webhook signing secrets: <c>webhooks.secret</c>.</summary>
    public const string SecretPurpose = "webhooks.secret";

    /// <summary>The <see cref="WebhookOutboxItem.LastError"/> of the events left undelivered when their subscription was deleted.</summary>
    public const string DeletedError = "The webhook subscription was deleted before the event was delivered.";

    /// <summary>The longest URL accepted: 2048 characters.</summary>
    public const int MaxUrlLength = 2048;

    /// <summary>Throws <see cref="ArgumentException"/> when the arguments of <see cref="ITenantWebhookSubscriptionStore.PutAsync"/> are malformed.</summary>
    public static void ThrowIfInvalid(TenantId tenant, Uri url, IReadOnlyList<string> eventTypes, ReadOnlyMemory<byte> protectedSecret)
    {
        ThrowIfDefault(tenant);
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps) || url.OriginalString.Length > MaxUrlLength)
        {
            throw new ArgumentException($"The webhook URL must be an absolute http or https URL of at most {MaxUrlLength} characters.", nameof(url));
        }

        WebhookEventTypes.ThrowIfInvalid(eventTypes);
        if (protectedSecret.IsEmpty)
        {
            throw new ArgumentException("The protected secret is empty.", nameof(protectedSecret));
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> for <c>default(TenantId)</c>.</summary>
    public static void ThrowIfDefault(TenantId tenant)
    {
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) names no tenant.", nameof(tenant));
        }
    }
}
