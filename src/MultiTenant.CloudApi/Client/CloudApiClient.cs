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
/// </remarks>
internal sealed class CloudApiClient : ITenantClient
{
    private const int MaxTextLength = 4096;
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
        _limiter = new SendLimiter(options.MessagesPerSecond, options.RateLimitBurst, options.RecipientSpacing, options.MaxSendWait, context.TimeProvider);
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

    public async Task<SendMessageResult> SendMessageAsync(OutboundMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!_connected)
        {
            throw new TenantSendException("The Cloud API client is not connected.", isTransient: true);
        }

        string to = NormalizeRecipient(message.To)
            ?? throw new TenantSendException("The recipient must be a phone number in international format (digits, optionally with a leading '+').", isTransient: false, errorCode: "invalid_recipient");
        if (string.IsNullOrEmpty(message.Text) || message.Text.Length > MaxTextLength)
        {
            throw new TenantSendException($"The text must be 1 to {MaxTextLength} characters long.", isTransient: false, errorCode: "invalid_text");
        }

        await WaitForTurnAsync(to, cancellationToken).ConfigureAwait(false);
        bool refreshed = false;
        while (true)
        {
            var credentials = Credentials;
            try
            {
                string id = await _graph.SendTextAsync(credentials, to, message.Text, cancellationToken).ConfigureAwait(false);
                return new SendMessageResult(id);
            }
            catch (GraphApiException ex)
            {
                var error = ex.Error;
                _metrics.GraphError("send", error.Tag);
                Log.GraphCallFailed(_context.Logger, Tenant.Value, "send", error.Message);
                if (error.Kind == GraphErrorKind.TokenInvalid && !refreshed && await ReloadIfChangedAsync(credentials, cancellationToken).ConfigureAwait(false))
                {
                    refreshed = true;
                    continue;
                }

                throw ToSendException(error, to, ex);
            }
        }
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

    /// <summary>
    /// Probes the number. Returns <see langword="null"/> when it can send, or why not (health_status BLOCKED).
    /// </summary>
    /// <exception cref="TenantFatalException">Graph rejected the token or its permissions, or the number does not exist.</exception>
    /// <exception cref="CloudApiException">A transient failure (throttling, server error, network).</exception>
    private async Task<string?> ProbeAsync(CancellationToken cancellationToken)
    {
        bool refreshed = false;
        while (true)
        {
            var credentials = Credentials;
            PhoneNumberHealthResponse health;
            try
            {
                health = await _graph.GetHealthAsync(credentials, cancellationToken).ConfigureAwait(false);
            }
            catch (GraphApiException ex)
            {
                var error = ex.Error;
                _metrics.GraphError("probe", error.Tag);
                if (error.Kind == GraphErrorKind.TokenInvalid && !refreshed && await ReloadIfChangedAsync(credentials, cancellationToken).ConfigureAwait(false))
                {
                    refreshed = true;
                    continue;
                }

                if (ToFatal(error, credentials) is { } fatal)
                {
                    Log.CredentialsRejected(_context.Logger, Tenant.Value, error.Message);
                    throw new TenantFatalException(fatal.Reason, fatal.Message, error.ToException(ex));
                }

                Log.GraphCallFailed(_context.Logger, Tenant.Value, "health probe", error.Message);
                throw error.ToException(ex);
            }

            return Evaluate(health, credentials);
        }
    }

    private string? Evaluate(PhoneNumberHealthResponse health, CloudApiCredentials credentials)
    {
        string? state = health.HealthStatus?.CanSendMessage;
        string? previous = _lastHealth;
        _lastHealth = state;
        if (string.Equals(state, "BLOCKED", StringComparison.OrdinalIgnoreCase))
        {
            return "WhatsApp reports that phone number id " + credentials.PhoneNumberId + " cannot send messages (health_status BLOCKED" + DescribeEntities(health) + ").";
        }

        if (string.Equals(state, "LIMITED", StringComparison.OrdinalIgnoreCase) && !string.Equals(previous, state, StringComparison.OrdinalIgnoreCase))
        {
            Log.MessagingLimited(_context.Logger, Tenant.Value, credentials.PhoneNumberId, DescribeEntities(health).TrimStart(':', ' '));
        }

        // AVAILABLE, LIMITED (sends work, with limits) or absent (an older API version): the number can send.
        return null;
    }

    private static string DescribeEntities(PhoneNumberHealthResponse health)
    {
        var entities = health.HealthStatus?.Entities;
        if (entities is null)
        {
            return string.Empty;
        }

        // The entity that explains the most: the first one that cannot send and says why, else the first one that cannot send.
        HealthEntity? chosen = null;
        foreach (var entity in entities)
        {
            if (entity?.CanSendMessage is { } can && !string.Equals(can, "AVAILABLE", StringComparison.OrdinalIgnoreCase))
            {
                if (entity.Errors is [_, ..])
                {
                    chosen = entity;
                    break;
                }

                chosen ??= entity;
            }
        }

        if (chosen is not null)
        {
            var first = chosen.Errors is [{ } e, ..] ? e : null;
            string description = first?.ErrorDescription is { Length: > 0 } d ? d.Length > 200 ? d[..200] : d : "no details";
            string code = first?.ErrorCode is { } c ? c.ToString(CultureInfo.InvariantCulture) + " " : string.Empty;
            return $": {chosen.EntityType ?? "entity"} {chosen.CanSendMessage}, {code}{description}";
        }

        return string.Empty;
    }

    private (TenantFatalReason Reason, string Message)? ToFatal(GraphError error, CloudApiCredentials credentials) => error.Kind switch
    {
        GraphErrorKind.TokenInvalid => (TenantFatalReason.CredentialsRevoked,
            $"The Cloud API access token was rejected as invalid, expired or revoked ({error.Message}). Set new credentials, then start the tenant again."),
        GraphErrorKind.PermissionDenied => (TenantFatalReason.CredentialsRevoked,
            $"The Cloud API access token lacks a permission the client needs ({error.Message}). Grant whatsapp_business_messaging and whatsapp_business_management, then start the tenant again."),
        GraphErrorKind.NumberNotFound => (TenantFatalReason.Other,
            $"The phone number id {credentials.PhoneNumberId} does not exist or the token cannot access it ({error.Message}). Fix the credentials, then start the tenant again."),
        _ => null,
    };

    private TenantSendException ToSendException(GraphError error, string to, Exception inner)
    {
        string code = error.Tag;
        switch (error.Kind)
        {
            case GraphErrorKind.TokenInvalid or GraphErrorKind.PermissionDenied or GraphErrorKind.NumberNotFound:
                var fatal = ToFatal(error, Credentials)!.Value;
                Log.CredentialsRejected(_context.Logger, Tenant.Value, error.Message);
                _context.ReportFatal(fatal.Reason, fatal.Message);
                return new TenantSendException(fatal.Message, isTransient: false, code, innerException: inner);
            case GraphErrorKind.Throttled:
                _limiter.PauseAll(_options.ThrottlePause);
                return new TenantSendException($"WhatsApp is throttling this tenant ({error.Message}); its sends are paused.", isTransient: true, code, _options.ThrottlePause, inner);
            case GraphErrorKind.ThroughputThrottled:
                _limiter.PauseAll(ThroughputPause);
                return new TenantSendException($"The number's message throughput limit was reached ({error.Message}).", isTransient: true, code, ThroughputPause, inner);
            case GraphErrorKind.RecipientThrottled:
                _limiter.HoldRecipient(to, _options.RecipientThrottleDelay);
                return new TenantSendException($"Too many messages to this recipient in a short time ({error.Message}); sends to it are held back.", isTransient: true, code, _options.RecipientThrottleDelay, inner);
            case GraphErrorKind.Policy:
                return new TenantSendException($"WhatsApp refused the message for a policy reason ({error.Message}). Retrying will not help until the account's standing recovers.", isTransient: false, code, innerException: inner);
            case GraphErrorKind.ServerTransient or GraphErrorKind.Network:
                return new TenantSendException($"The Cloud API failed to take the message ({error.Message}).", isTransient: true, code, innerException: inner);
            default:
                return new TenantSendException($"The Cloud API refused the message ({error.Message}).", isTransient: false, code, innerException: inner);
        }
    }

    private async Task WaitForTurnAsync(string to, CancellationToken cancellationToken)
    {
        var wait = _limiter.ReserveRecipient(to, out var retryAfter);
        if (wait is null)
        {
            throw new TenantSendException("Sends to this recipient are held back (per-recipient spacing or WhatsApp's pair rate limit).", isTransient: true, "recipient_rate_limited", retryAfter);
        }

        if (wait.Value > TimeSpan.Zero)
        {
            await Task.Delay(wait.Value, _context.TimeProvider, cancellationToken).ConfigureAwait(false);
        }

        wait = _limiter.ReserveRateSlot(out retryAfter);
        if (wait is null)
        {
            throw new TenantSendException("The tenant's send rate limit is exhausted.", isTransient: true, "rate_limited", retryAfter);
        }

        if (wait.Value > TimeSpan.Zero)
        {
            await Task.Delay(wait.Value, _context.TimeProvider, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Digits of a phone number: "+15551234567", "15551234567" or a JID "15551234567@s.whatsapp.net". Null when invalid.</summary>
    internal static string? NormalizeRecipient(string? to)
    {
        if (string.IsNullOrWhiteSpace(to))
        {
            return null;
        }

        var span = to.AsSpan().Trim();
        int at = span.IndexOf('@');
        if (at >= 0)
        {
            span = span[..at];
        }

        if (span.StartsWith("+"))
        {
            span = span[1..];
        }

        if (span.Length is < 5 or > 20)
        {
            return null;
        }

        foreach (char c in span)
        {
            if (!char.IsAsciiDigit(c))
            {
                return null;
            }
        }

        return span.Length == to.Length ? to : span.ToString();
    }
}
