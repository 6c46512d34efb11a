namespace MultiTenant.CloudApi;

/// <summary>
/// The Cloud API calls beyond sending: read receipts (with the typing indicator) and the business account's templates. They read the
/// tenant's credentials from <see cref="ICloudApiCredentialStore"/>, so any host of a fleet can make them, whether or not it runs the
/// tenant.
/// </summary>
public interface ICloudApiMessaging
{
    /// <summary>
    /// Marks an inbound message (and every earlier one of the conversation) as read: the sender sees blue ticks. With
    /// <paramref name="showTypingIndicator"/> the sender also sees "typing…" until the next message is sent or 25 seconds pass.
    /// </summary>
    /// <param name="tenant">The tenant that received the message.</param>
    /// <param name="messageId">The inbound message's id (<c>wamid…</c>).</param>
    /// <param name="showTypingIndicator">Whether to show the typing indicator. Default <see langword="false"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ArgumentException"><paramref name="messageId"/> is empty.</exception>
    /// <exception cref="CloudApiException">The tenant has no credentials, or Graph refused the call (<see cref="CloudApiException.IsTransient"/>
    /// says whether a retry may work).</exception>
    Task MarkReadAsync(TenantId tenant, string messageId, bool showTypingIndicator = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// The message templates of the tenant's WhatsApp Business Account (every page), with their review status. Cached per tenant for
    /// <see cref="CloudApiOptions.TemplateCacheDuration"/> (on the host's <see cref="TimeProvider"/>); new credentials clear the cache
    /// at the next call.
    /// </summary>
    /// <param name="tenant">The tenant.</param>
    /// <param name="refresh">Whether to bypass the cache. Default <see langword="false"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="CloudApiException">The tenant has no credentials or no business account id, or Graph refused the call.</exception>
    Task<IReadOnlyList<CloudApiTemplate>> GetTemplatesAsync(TenantId tenant, bool refresh = false, CancellationToken cancellationToken = default);
}

/// <summary>A message template of a WhatsApp Business Account.</summary>
/// <param name="Id">The template's id.</param>
/// <param name="Name">Its name (what a template message names).</param>
/// <param name="Language">Its language and locale, for example <c>en_US</c>.</param>
/// <param name="Status">Its review status: <c>APPROVED</c>, <c>PENDING</c>, <c>REJECTED</c>, <c>PAUSED</c>, <c>DISABLED</c>, …</param>
/// <param name="Category">Its category: <c>MARKETING</c>, <c>UTILITY</c> or <c>AUTHENTICATION</c>, or <see langword="null"/>.</param>
public sealed record CloudApiTemplate(string Id, string Name, string Language, string Status, string? Category);
