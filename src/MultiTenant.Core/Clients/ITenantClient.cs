namespace MultiTenant.Clients;

/// <summary>
/// One tenant's connection to WhatsApp. The client owns the protocol; the coordinator owns its lifecycle.
/// </summary>
/// <remarks>
/// <para>A client is created once per run of a tenant by <see cref="ITenantClientFactory"/> and disposed when the tenant stops.
/// The tenant's supervisor calls <see cref="ConnectAsync"/> for the first connection and for every reconnect, never concurrently.</para>
/// <para>Failures: throw <see cref="TenantFatalException"/> for conditions that retrying cannot fix (no paired device, logged out,
/// stream replaced by another instance, credentials revoked); any other exception is treated as transient and retried with backoff.
/// A connection lost later is reported through <see cref="TenantClientContext.ReportDisconnected"/> or
/// <see cref="TenantClientContext.ReportFatal"/>.</para>
/// </remarks>
public interface ITenantClient : IAsyncDisposable
{
    /// <summary>Whether the client believes it is connected right now.</summary>
    bool IsConnected { get; }

    /// <summary>Connects. Returns when the connection is established.</summary>
    /// <exception cref="TenantFatalException">A condition retrying cannot fix.</exception>
    Task ConnectAsync(CancellationToken cancellationToken);

    /// <summary>Disconnects. Must be safe to call when not connected.</summary>
    Task DisconnectAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The periodic health check: returns <see langword="false"/> when the connection is gone even though no disconnect was reported
    /// (a silent drop). Called on the supervisor's loop every <c>HealthCheckInterval</c> while connected.
    /// </summary>
    /// <exception cref="TenantFatalException">The probe found a fatal condition (for example revoked credentials).</exception>
    ValueTask<bool> CheckHealthAsync(CancellationToken cancellationToken);

    /// <summary>Sends a message (any <see cref="MessageContent"/> kind the backend supports) and returns its id.</summary>
    /// <exception cref="InvalidMessageException">The message breaks one of the backend's limits; nothing was sent.</exception>
    /// <exception cref="TenantSendException">The backend refused the message.</exception>
    Task<SendMessageResult> SendMessageAsync(OutboundMessage message, CancellationToken cancellationToken);
}

/// <summary>Creates a tenant's client.</summary>
public interface ITenantClientFactory
{
    /// <summary>
    /// Creates the client of <see cref="TenantClientContext.BusinessId"/>. Called once per run of the tenant; when it throws anything but
    /// <see cref="TenantFatalException"/> (a transient failure, such as an unreachable state store) it is called again with the reconnect backoff.
    /// </summary>
    /// <exception cref="TenantFatalException">The tenant cannot run (for example it has no paired device); it is not retried.</exception>
    ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken);
}

/// <summary>The result of a send.</summary>
/// <param name="MessageId">The id the backend gave the message.</param>
public sealed record SendMessageResult(string MessageId);
