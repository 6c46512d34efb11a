using System.Globalization;
using MultiTenant.Clients;
using MultiTenant.CloudApi.Diagnostics;
using MultiTenant.CloudApi.Graph;

namespace MultiTenant.CloudApi.Client;

// The health probe and the classification of Graph errors as fatal.
internal sealed partial class CloudApiClient
{
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
}
