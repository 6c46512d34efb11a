using System.Globalization;
using MultiTenant.Clients;
using MultiTenant.CloudApi.Diagnostics;
using MultiTenant.CloudApi.Graph;

namespace MultiTenant.CloudApi.Client;

// Sending: validation, pacing, the Graph call and the mapping of its errors.
internal sealed partial class CloudApiClient
{
    /// <summary>Validates the message against the Cloud API's limits (<see cref="MessageValidator"/>), waits for the tenant's and the
    /// recipient's pace, then posts it.</summary>
    /// <exception cref="InvalidMessageException">The message breaks a limit; nothing was sent and no rate slot was used.</exception>
    public async Task<SendMessageResult> SendMessageAsync(OutboundMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!_connected)
        {
            throw new TenantSendException("The Cloud API client is not connected.", isTransient: true);
        }

        string to = NormalizeRecipient(message.To)
            ?? throw new TenantSendException("The recipient must be a phone number in international format (digits, optionally with a leading '+').", isTransient: false, errorCode: "invalid_recipient");
        MessageValidator.Validate(message);
        var normalized = ReferenceEquals(to, message.To) ? message : message with { To = to };

        await WaitForTurnAsync(to, cancellationToken).ConfigureAwait(false);
        bool refreshed = false;
        while (true)
        {
            var credentials = Credentials;
            try
            {
                string id = await _graph.SendMessageAsync(credentials, normalized, cancellationToken).ConfigureAwait(false);
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
