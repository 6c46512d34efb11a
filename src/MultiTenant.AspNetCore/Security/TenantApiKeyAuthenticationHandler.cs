using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.AspNetCore.Http;
using MultiTenant.Security;

namespace MultiTenant.AspNetCore.Security;

/// <summary>
/// Authenticates <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key: &lt;key&gt;</c>: the admin key (compared by hash, in
/// constant time) or a tenant key looked up by its SHA-256 hash in <see cref="ITenantApiKeyStore"/> on every request (no cache, so
/// a revoke is effective at once on every host). A missing, unknown or revoked key is answered 401 with <c>WWW-Authenticate: Bearer</c>
/// and problem details; a key without the right scope 403.
/// </summary>
internal sealed class TenantApiKeyAuthenticationHandler(
    IOptionsMonitor<TenantApiKeyAuthenticationOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ITenantApiKeyStore keys)
    : AuthenticationHandler<TenantApiKeyAuthenticationOptions>(options, logger, encoder)
{
    private const string BearerPrefix = "Bearer ";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? key = ReadKey(Request);
        if (key is null)
        {
            return AuthenticateResult.NoResult();
        }

        if (key.Length == 0 || key.Length > TenantApiKeys.MaxKeyLength)
        {
            return AuthenticateResult.Fail("The API key is not valid.");
        }

        byte[] hash = TenantApiKeys.Hash(key);
        if (Options.AdminKey is { Length: > 0 } admin && TenantApiKeys.HashesEqual(TenantApiKeys.Hash(admin), hash))
        {
            return Success([new Claim(TenantApiAuthentication.RoleClaim, TenantApiAuthentication.AdminRole)]);
        }

        var record = await keys.FindByHashAsync(hash, Context.RequestAborted).ConfigureAwait(false);
        return record is null
            ? AuthenticateResult.Fail("The API key is not valid.")
            : Success(
            [
                new Claim(TenantApiAuthentication.BusinessIdClaim, record.Tenant.Value),
                new Claim(TenantApiAuthentication.KeyIdClaim, record.Id.ToString("D")),
            ]);
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        return Problems.WriteAsync(
            Context,
            StatusCodes.Status401Unauthorized,
            "A valid API key is required: send it as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, StatusCodes.Status403Forbidden, "This API key may not act on this resource.");

    private AuthenticateResult Success(Claim[] claims) =>
        AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, Scheme.Name)), Scheme.Name));

    private static string? ReadKey(HttpRequest request)
    {
        string? authorization = request.Headers.Authorization;
        if (!string.IsNullOrEmpty(authorization))
        {
            return authorization.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase)
                ? authorization[BearerPrefix.Length..].Trim()
                : string.Empty;
        }

        string? header = request.Headers[TenantApiAuthentication.ApiKeyHeader];
        return header is null ? null : header.Trim();
    }
}
