namespace MultiTenant.Clients;

/// <summary>Why a tenant cannot run until it is started again.</summary>
public enum TenantFatalReason
{
    /// <summary>Another fatal condition; see the message.</summary>
    Other = 0,

    /// <summary>The tenant has no paired device.</summary>
    NotPaired = 1,

    /// <summary>The device was logged out (unlinked in WhatsApp).</summary>
    LoggedOut = 2,

    /// <summary>Another instance connected with the same credentials and replaced this stream.</summary>
    StreamReplaced = 3,

    /// <summary>The credentials were revoked or expired.</summary>
    CredentialsRevoked = 4,

    /// <summary>This host lost ownership of the tenant.</summary>
    OwnershipLost = 5,
}

/// <summary>
/// A condition that retrying cannot fix. Thrown by clients and factories; the tenant goes to <see cref="TenantState.Error"/>
/// with <see cref="Exception.Message"/> as its error, and is not retried until it is started again.
/// </summary>
/// <remarks>
/// The message is the client's public reason and is shown as it is: in the tenant's status (<c>GET /api/tenants/{business_id}</c>),
/// the dashboard, <see cref="Events.TenantFaultedEvent.Error"/> and outbound webhooks. Write it for the API caller ("No paired device; pair one
/// first."), never with a secret, a connection string or another exception's text; put the cause in <c>innerException</c>, which only
/// the log line (event id <see cref="Diagnostics.MultiTenantEventIds.TenantFaulted"/>) carries. Any other exception of a client is never
/// shown: its status says a fixed reason, the exception's type and an error id that the log line with the exception carries too.
/// </remarks>
public sealed class TenantFatalException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TenantFatalException(TenantFatalReason reason, string message, Exception? innerException = null)
        : base(message, innerException) => Reason = reason;

    /// <summary>Why the tenant cannot run.</summary>
    public TenantFatalReason Reason { get; }
}

/// <summary>
/// A failure to create the client or to connect that retrying may fix (the coordinator backs off and tries again), with a message
/// written for API callers: the tenant's status shows it (<c>connect failed: {message}; error id …</c>), unlike the text of any other
/// exception, which only the log line carries. Keep secrets and other exceptions' texts out of the message; put the cause in
/// <c>innerException</c>.
/// </summary>
public sealed class TenantConnectException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">The reason, safe to show to an API caller, such as "WhatsApp is throttling this number (code 80007)".</param>
    /// <param name="innerException">The cause, logged only.</param>
    public TenantConnectException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>A send the backend refused.</summary>
public sealed class TenantSendException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">A message safe to show to an API caller.</param>
    /// <param name="isTransient">Whether the same send may succeed later.</param>
    /// <param name="errorCode">The backend's error code, when it has one.</param>
    /// <param name="retryAfter">When to retry, when the backend said.</param>
    /// <param name="innerException">The cause.</param>
    public TenantSendException(string message, bool isTransient, string? errorCode = null, TimeSpan? retryAfter = null, Exception? innerException = null)
        : base(message, innerException)
    {
        IsTransient = isTransient;
        ErrorCode = errorCode;
        RetryAfter = retryAfter;
    }

    /// <summary>Whether the same send may succeed later.</summary>
    public bool IsTransient { get; }

    /// <summary>The backend's error code, when it has one.</summary>
    public string? ErrorCode { get; }

    /// <summary>When to retry, when the backend said.</summary>
    public TimeSpan? RetryAfter { get; }
}
