using System.Globalization;
using MultiTenant.Clients;
using MultiTenant.CloudApi.Diagnostics;
using MultiTenant.CloudApi.Graph;
using MultiTenant.CloudApi.Routing;
using MultiTenant.CloudApi.Webhooks;
using MultiTenant.Events;

namespace MultiTenant.CloudApi.Client;

/// <summary>
/// One tenant's client for the WhatsApp Business Cloud API. The API is stateless HTTP, so "connected" means: the access token is
/// valid and the number's <c>health_status</c> allows sending. Inbound traffic arrives through the webhook endpoint, which finds this
/// client through <see cref="CloudApiTenantDirectory"/> and writes to its tenant's event channel.
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
    private readonly SendLimiter _limiter;
    private readonly CancellationTokenSource _lifetime = new();
    private CloudApiCredentials _credentials;
    private volatile bool _connected;
    private volatile string? _lastHealth;
    private ITimer? _sweepTimer;
    private Task _sweep = Task.CompletedTask;
    private int _sweeping;
    private int _disposed;

    public CloudApiClient(
        TenantClientContext context,
        CloudApiCredentials credentials,
        GraphApiClient graph,
        CloudApiOptions options,
        CloudApiTenantDirectory directory,
        CloudApiMetrics metrics,
        CredentialStorage storage)
    {
        _context = context;
        _storage = storage;
        _credentials = credentials;
        _graph = graph;
        _options = options;
        _directory = directory;
        _metrics = metrics;
        _limiter = new SendLimiter(options.MessagesPerSecondFor(context.BusinessId), options.RateLimitBurst, options.RecipientSpacing, options.MaxSendWait, context.TimeProvider);
        Deduplicator = new WebhookDeduplicator(context.State, context.TimeProvider, options.DeduplicationWindow);
    }

    public TenantId Tenant => _context.BusinessId;

    /// <summary>The tenant's event channel, for the webhook.</summary>
    public ITenantEventWriter Events => _context.Events;

    public WebhookDeduplicator Deduplicator { get; }

    public CloudApiCredentials Credentials => Volatile.Read(ref _credentials);

    public bool IsConnected => _connected;

    internal SendLimiter Limiter => _limiter;

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        // Fresh from the store at every (re)connect, so a token rotated on another host is picked up.
        var stored = await ReadStoredCredentialsAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new TenantFatalException(TenantFatalReason.NotPaired, CloudApiClientFactory.NoCredentialsMessage);
        if (!TrySwitchCredentials(stored))
        {
            throw new TenantFatalException(TenantFatalReason.Other, CloudApiClientFactory.NumberInUseMessage(stored.PhoneNumberId, _directory));
        }

        var problem = await ProbeAsync(cancellationToken).ConfigureAwait(false);
        if (problem is not null)
        {
            throw new CloudApiException(problem, null, 200, isTransient: true);
        }

        _connected = true;
        StartSweeps();
    }

    public Task DisconnectAsync(CancellationToken cancellationToken)
    {
        _connected = false;
        return Task.CompletedTask;
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

    /// <summary>Switches to new credentials (set through <see cref="ICloudApiCredentialStore"/> on this host, or read at connect).</summary>
    public void UseCredentials(CloudApiCredentials credentials)
    {
        if (!TrySwitchCredentials(credentials))
        {
            _context.ReportFatal(TenantFatalReason.Other, CloudApiClientFactory.NumberInUseMessage(credentials.PhoneNumberId, _directory));
        }
    }

    /// <summary>Switches credentials; <see langword="false"/> (and no switch) when another tenant here holds the new number.</summary>
    private bool TrySwitchCredentials(CloudApiCredentials credentials)
    {
        if (!_directory.Claim(Tenant, credentials.PhoneNumberId, throwOnConflict: false))
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
        if (_sweepTimer is not null)
        {
            await _sweepTimer.DisposeAsync().ConfigureAwait(false);
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);
        await _sweep.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _lifetime.Dispose();
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

        return TrySwitchCredentials(stored);
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

    private void StartSweeps()
    {
        if (_sweepTimer is null && Volatile.Read(ref _disposed) == 0)
        {
            // A sweep now, then every interval. The callback only starts the sweep; overlapping ticks are skipped.
            _sweepTimer = _context.TimeProvider.CreateTimer(
                static state => ((CloudApiClient)state!).StartSweep(), this, TimeSpan.Zero, _options.DeduplicationSweepInterval);
        }
    }

    private void StartSweep()
    {
        if (Interlocked.CompareExchange(ref _sweeping, 1, 0) == 0)
        {
            _sweep = SweepAsync();
        }
    }

    private async Task SweepAsync()
    {
        await Task.Yield();
        try
        {
            int removed = await Deduplicator.SweepAsync(_lifetime.Token).ConfigureAwait(false);
            if (removed > 0)
            {
                Log.DeduplicationSwept(_context.Logger, Tenant.Value, removed);
            }
        }
        catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
        {
            // Stopping.
        }
        catch (Exception ex)
        {
            Log.DeduplicationStoreFailed(_context.Logger, Tenant.Value, "remove expired ids", ex);
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }
}
