namespace MultiTenant;

/// <summary>A business id that does not follow the rules of <see cref="TenantId"/>.</summary>
public sealed class InvalidTenantIdException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="businessId">The rejected id (kept for diagnostics, never put in <see cref="Exception.Message"/>).</param>
    /// <param name="reason">Why it was rejected.</param>
    public InvalidTenantIdException(string? businessId, string reason)
        : base(reason, "businessId")
    {
        RejectedValue = businessId;
        Reason = reason;
    }

    /// <summary>The rejected id.</summary>
    public string? RejectedValue { get; }

    /// <summary>Why the id was rejected, safe to show to a caller.</summary>
    public string Reason { get; }
}

/// <summary>The base class of the coordinator's typed errors.</summary>
public abstract class TenantException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    protected TenantException(TenantId tenant, string message, Exception? innerException = null)
        : base(message, innerException) => Tenant = tenant;

    /// <summary>The tenant concerned.</summary>
    public TenantId Tenant { get; }
}

/// <summary>A start of a tenant that already runs.</summary>
public sealed class TenantAlreadyRunningException : TenantException
{
    /// <summary>Creates the exception.</summary>
    public TenantAlreadyRunningException(TenantId tenant, string? host = null)
        : base(tenant, host is null
            ? $"Tenant '{tenant}' is already running."
            : $"Tenant '{tenant}' is already running on host '{host}'.") => Host = host;

    /// <summary>The host the tenant runs on, when known.</summary>
    public string? Host { get; }
}

/// <summary>An operation on a tenant the coordinator does not know.</summary>
public sealed class TenantNotFoundException : TenantException
{
    /// <summary>Creates the exception.</summary>
    public TenantNotFoundException(TenantId tenant)
        : base(tenant, $"Tenant '{tenant}' is not known.")
    {
    }
}

/// <summary>A send through a tenant that is not connected.</summary>
public sealed class TenantNotConnectedException : TenantException
{
    /// <summary>Creates the exception.</summary>
    public TenantNotConnectedException(TenantId tenant, TenantState state)
        : base(tenant, $"Tenant '{tenant}' is not connected (it is {state.ToWireName()}).") => State = state;

    /// <summary>The state the tenant was in.</summary>
    public TenantState State { get; }
}

/// <summary>A logout of a tenant whose client has no logout capability (<see cref="Clients.ITenantClientLogout"/>).</summary>
public sealed class TenantLogoutNotSupportedException : TenantException
{
    /// <summary>Creates the exception.</summary>
    public TenantLogoutNotSupportedException(TenantId tenant)
        : base(tenant, $"The client of tenant '{tenant}' cannot log out.")
    {
    }
}

/// <summary>
/// A send of a message kind the tenant's backend cannot send (see <see cref="Clients.ITenantClientMessageKinds"/>; a backend without that
/// capability sends text only). Nothing was sent; the tenant API answers 422 <c>kind_not_supported</c>.
/// </summary>
public sealed class MessageKindNotSupportedException : TenantException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="tenant">The tenant concerned.</param>
    /// <param name="kind">The kind refused (<see cref="Clients.MessageContent.Kind"/>).</param>
    public MessageKindNotSupportedException(TenantId tenant, string kind)
        : base(tenant, $"The client of tenant '{tenant}' cannot send '{kind}' messages.") => Kind = kind;

    /// <summary>The kind refused, for example <c>template</c>.</summary>
    public string Kind { get; }
}

/// <summary>A start refused because the coordinator is shutting down.</summary>
public sealed class TenantCoordinatorStoppingException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public TenantCoordinatorStoppingException()
        : base("The tenant coordinator is shutting down and accepts no new starts.")
    {
    }
}

/// <summary>
/// The tenant's host could not be reached in time and the operation was <em>not</em> carried out (for example a relayed send that the
/// owner host never took): it is safe to retry. The HTTP layer answers <c>503 Service Unavailable</c> with <c>Retry-After</c>.
/// </summary>
public sealed class TenantUnavailableException : TenantException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="tenant">The tenant concerned.</param>
    /// <param name="retryAfter">When a retry may succeed, when known.</param>
    public TenantUnavailableException(TenantId tenant, TimeSpan? retryAfter = null)
        : base(tenant, $"The host running tenant '{tenant}' did not take the request in time; nothing was done, and the request may be retried.") =>
        RetryAfter = retryAfter;

    /// <summary>When a retry may succeed, when known.</summary>
    public TimeSpan? RetryAfter { get; }
}
