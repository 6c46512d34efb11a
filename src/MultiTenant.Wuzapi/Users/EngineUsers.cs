using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.Clients;
using MultiTenant.Storage;
using MultiTenant.Wuzapi.Diagnostics;
using MultiTenant.Wuzapi.Engine;

namespace MultiTenant.Wuzapi.Users;

/// <summary>
/// Keeps each tenant's engine user: created through <c>POST /admin/users</c> (name = business id, a generated token, the tenant's
/// webhook URL, the subscribed event types) with its webhook HMAC key set through <c>POST /session/hmac/config</c>, checked with
/// <c>GET /admin/users/{id}</c> at every connect, and created again (new token and key) when the engine lost it.
/// </summary>
/// <remarks>
/// The record is written before the engine is asked to create the user, with the token chosen already: when a host dies between the
/// two, the next attempt finds the user by its token (<c>GET /admin/users</c>) instead of creating a second one.
/// </remarks>
internal sealed class EngineUsers(WuzapiEngines engines, EngineUserStorage storage, IOptions<WuzapiOptions> options, ILogger<EngineUsers> logger)
{
    private readonly string _events = string.Join(',', options.Value.Events);

    /// <summary>The webhook URL of <paramref name="tenant"/>'s engine user: <c>{WebhookBaseUrl}/{business_id}</c>.</summary>
    public string WebhookUrl(TenantId tenant) =>
        options.Value.WebhookBaseUrl!.AbsoluteUri.TrimEnd('/') + "/" + Uri.EscapeDataString(tenant.Value);

    /// <summary>The tenant's engine user, created or re-created as needed, and its engine.</summary>
    /// <exception cref="TenantFatalException">The stored user is unreadable, its engine is no longer configured, or the engine cannot sign webhooks.</exception>
    /// <exception cref="WuzapiEngineException">The engine failed (transient: the caller retries with backoff).</exception>
    public async Task<(EngineUser User, WuzapiEngineApi Engine)> EnsureAsync(ITenantStateStore store, CancellationToken cancellationToken)
    {
        var tenant = store.Tenant;
        var user = await ReadAsync(store, cancellationToken).ConfigureAwait(false);
        WuzapiEngineApi engine;
        if (user is null)
        {
            engine = engines.Assign(tenant);
            user = new EngineUser(engine.Name, 0, EngineUserStorage.NewSecret(), EngineUserStorage.NewSecret(), Paired: false);
            await storage.WriteAsync(store, user, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            engine = engines.Find(user.Engine) ?? throw new TenantFatalException(TenantFatalReason.Other,
                $"The tenant's engine user lives on the wuzapi engine '{user.Engine}', which is not configured ({WuzapiOptions.SectionName}:Engines).");
            if (user.UserId != 0)
            {
                var found = await engine.GetUserAsync(user.UserId, cancellationToken).ConfigureAwait(false);
                if (found is not null && SameToken(found.Token, user.Token))
                {
                    return (user, engine);
                }

                // The engine lost the user (its database was reset, or someone deleted it): a new one, with new secrets.
                Log.EngineUserLost(logger, tenant.Value, engine.Name, user.UserId);
                user = new EngineUser(engine.Name, 0, EngineUserStorage.NewSecret(), EngineUserStorage.NewSecret(), Paired: false);
                await storage.WriteAsync(store, user, cancellationToken).ConfigureAwait(false);
            }
        }

        long id = 0;
        foreach (var existing in await engine.ListUsersAsync(cancellationToken).ConfigureAwait(false))
        {
            if (SameToken(existing.Token, user.Token))
            {
                id = existing.Id;
                break;
            }
        }

        if (id == 0)
        {
            id = await engine.AddUserAsync(new AddUserRequest(tenant.Value, user.Token, WebhookUrl(tenant), 0, _events), cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await engine.ConfigureHmacAsync(user.Token, user.HmacKey, cancellationToken).ConfigureAwait(false);
        }
        catch (WuzapiEngineException ex) when (ex.StatusCode is 404 or 405)
        {
            throw new TenantFatalException(TenantFatalReason.Other,
                $"The wuzapi engine '{engine.Name}' does not offer POST /session/hmac/config: run a wuzapi version that signs webhooks (x-hmac-signature).", ex);
        }

        user = user with { UserId = id };
        await storage.WriteAsync(store, user, cancellationToken).ConfigureAwait(false);
        Log.EngineUserCreated(logger, tenant.Value, engine.Name, id);
        return (user, engine);
    }

    /// <summary>Records whether a device is paired (so a later "not logged in" means: logged out from the phone).</summary>
    public async ValueTask<EngineUser> SetPairedAsync(ITenantStateStore store, EngineUser user, bool paired, CancellationToken cancellationToken)
    {
        if (user.Paired == paired)
        {
            return user;
        }

        user = user with { Paired = paired };
        await storage.WriteAsync(store, user, cancellationToken).ConfigureAwait(false);
        return user;
    }

    /// <summary>The phone number set for pairing by code, or <see langword="null"/> (pair by QR code).</summary>
    public async ValueTask<string?> GetPairPhoneAsync(ITenantStateStore store, CancellationToken cancellationToken) =>
        await store.GetAsync(EngineUserStorage.Namespace, EngineUserStorage.PairPhoneKey, cancellationToken).ConfigureAwait(false) is { Length: > 0 } bytes
            ? Encoding.UTF8.GetString(bytes)
            : null;

    private async ValueTask<EngineUser?> ReadAsync(ITenantStateStore store, CancellationToken cancellationToken)
    {
        try
        {
            return await storage.ReadAsync(store, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException ex)
        {
            throw new TenantFatalException(TenantFatalReason.CredentialsRevoked, ex.Message);
        }
    }

    private static bool SameToken(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));
}
