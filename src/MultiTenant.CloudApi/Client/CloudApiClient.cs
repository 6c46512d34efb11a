using System.Globalization;
using MultiTenant.Clients;
using MultiTenant.CloudApi.Diagnostics;
using MultiTenant.CloudApi.Graph;
using MultiTenant.CloudApi.Routing;
using MultiTenant.Events;
using MultiTenant.Inbox;

namespace MultiTenant.CloudApi.Client;

/// <summary>
/// One tenant's client for the WhatsApp Business Cloud API. The API is stateless HTTP, so "connected" means: the access token is
/// valid and the number's <c>health_status</c> allows sending. Inbound traffic arrives through the webhook endpoint (on any host),
/// which stores it in the tenant's durable inbox; while connected, the client runs a <see cref="TenantInboxConsumer"/> that delivers
/// that inbox to the tenant's handlers in order, so exactly the host that runs the tenant handles its messages.
/// </summary>
/// <remarks>
/// Graph errors are handled by Graph's <c>error.code</c>, not the HTTP status: 190 (token invalid) and permission errors stop the
/// tenant with an error (no retry); 4, 80007, 130429, 5xx and network faults are transient (the coordinator backs off, sends get a
/// retry time); 131056 holds back only that recipient; 131048 and 368 are policy refusals.
/// <para>Split by responsibility: lifecycle and credentials here, sending in <c>CloudApiClient.Send.cs</c>, the health probe and the
/// classification of Graph errors in <c>CloudApiClient.Health.cs</c>.</para>
/// </remarks>
internal sealed partial class CloudApiClient : ITenantClient
{
    private static readonly TimeSpan ThroughputPause = TimeSpan.FromSeconds(1);

    private readonly TenantClientContext _context;
    private readonly GraphApiClient _graph;
    private readonly CloudApiOptions _options;
    private readonly CloudApiTenantDirectory _directory;
    private readonly CloudApiMetrics _metrics;
    private readonly CredentialStorage _storage;
    private readonly CloudApiInbox _inbox;
    private readonly SendLimiter _limiter;
    private CloudApiCredentials _credentials;
    private volatile bool _connected;
    private volatile string? _lastHealth;
    private TenantInboxConsumer? _consumer;
    private int _disposed;

    public CloudApiClient(
        TenantClientContext context,
        CloudApiCredentials credentials,
        GraphApiClient graph,
        CloudApiOptions options,
        CloudApiTenantDirectory directory,
        CloudApiMetrics metrics,
        CredentialStorage storage,
        CloudApiInbox inbox)
    {
        _context = context;
        _storage = storage;
        _credentials = credentials;
        _graph = graph;
        _options = options;
        _directory = directory;
        _metrics = metrics;
        _inbox = inbox;
        _limiter = new SendLimiter(options.MessagesPerSecondFor(context.BusinessId), options.RateLimitBurst, options.RecipientSpacing, options.MaxSendWait, context.TimeProvider);
    }

    public TenantId Tenant => _context.BusinessId;

    public CloudApiCredentials Credentials => Volatile.Read(ref _credentials);

    public bool IsConnected => _connected;

    internal SendLimiter Limiter => _limiter;

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        // Fresh from the store at every (re)connect, so a token rotated on another host is picked up.
        var stored = await ReadStoredCredentialsAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new TenantFatalException(TenantFatalReason.NotPaired, CloudApiClientFactory.NoCredentialsMessage);
        if (!await TrySwitchCredentialsAsync(stored, cancellationToken).ConfigureAwait(false))
        {
            throw new TenantFatalException(TenantFatalReason.Other, CloudApiClientFactory.NumberInUseMessage(stored.PhoneNumberId));
        }

        string? problem;
        try
        {
            problem = await ProbeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (CloudApiException ex)
        {
            // Our own text for callers (a Graph error code, throttling; the token scrubbed): the tenant's status shows it.
            throw new TenantConnectException(ex.Message, ex);
        }

        if (problem is not null)
        {
            throw new TenantConnectException(problem);
        }

        _connected = true;
        if (Volatile.Read(ref _consumer) is null)
        {
            // Delivered in order from the durable inbox, whichever host received the webhook. The supervisor connects and
            // disconnects one at a time; the exchange only guards against a dispose racing the start.
            var consumer = _inbox.StartConsumer(_context);
            if (Interlocked.CompareExchange(ref _consumer, consumer, null) is not null || Volatile.Read(ref _disposed) != 0)
            {
                await consumer.DisposeAsync().ConfigureAwait(false);
                Interlocked.CompareExchange(ref _consumer, null, consumer);
            }
        }
    }

    public async Task DisconnectAsync(CancellationToken cancellationToken)
    {
        _connected = false;
        await StopConsumerAsync().ConfigureAwait(false);
    }

    public async ValueTask<bool> CheckHealthAsync(CancellationToken cancellationToken)
    {
        if (!_connected)
        {
            return false;
        }

        // Fatal findings throw TenantFatalException; transient ones throw and count as "not alive", so the coordinator reconnects.
        return await ProbeAsync(cancellationToken).ConfigureAwait(false) is null;
    }

    /// <summary>
    /// Switches to new credentials, set through <see cref="ICloudApiCredentialStore"/> on this host after it claimed their number.
    /// </summary>
    public void UseCredentials(CloudApiCredentials credentials) => Volatile.Write(ref _credentials, credentials);

    /// <summary>
    /// Switches credentials once the tenant holds their number in the shared index (credentials stored by an earlier version claim
    /// it here); <see langword="false"/> (and no switch) when another tenant holds it.
    /// </summary>
    private async ValueTask<bool> TrySwitchCredentialsAsync(CloudApiCredentials credentials, CancellationToken cancellationToken)
    {
        if (!await _inbox.ClaimAsync(Tenant, credentials.PhoneNumberId, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        Volatile.Write(ref _credentials, credentials);
        return true;
    }

    /// <summary>The credentials were deleted: the tenant cannot send any more.</summary>
    public void OnCredentialsDeleted() =>
        _context.ReportFatal(TenantFatalReason.NotPaired, "The tenant's Cloud API credentials were deleted. Set them again, then start the tenant.");

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _connected = false;
        _directory.RemoveClient(this);
        await StopConsumerAsync().ConfigureAwait(false);
    }

    /// <summary>Stops delivering the inbox: waits for the item being handled; the rest stays for the tenant's next run (here or elsewhere).</summary>
    private async Task StopConsumerAsync()
    {
        if (Interlocked.Exchange(ref _consumer, null) is { } consumer)
        {
            await consumer.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>After a 190, reads the store: when another host (or an API call) stored a different token, use it and retry once.</summary>
    private async Task<bool> ReloadIfChangedAsync(CloudApiCredentials used, CancellationToken cancellationToken)
    {
        CloudApiCredentials? stored;
        try
        {
            stored = await ReadStoredCredentialsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (TenantFatalException)
        {
            return false;
        }

        if (stored is null || stored.SameAs(used))
        {
            return false;
        }

        return await TrySwitchCredentialsAsync(stored, cancellationToken).ConfigureAwait(false);
    }

    private async Task<CloudApiCredentials?> ReadStoredCredentialsAsync(CancellationToken cancellationToken)
    {
        try
        {
            return (await _storage.ReadAsync(_context.State, cancellationToken).ConfigureAwait(false))?.Credentials;
        }
        catch (InvalidDataException ex)
        {
            throw new TenantFatalException(TenantFatalReason.NotPaired, ex.Message);
        }
    }
}
