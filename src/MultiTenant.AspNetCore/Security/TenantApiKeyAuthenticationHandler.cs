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

        if (TenantApiKeyValidation.HashOf(key) is not { } hash)
        {
            return AuthenticateResult.Fail("The API key is not valid.");
        }

        var claims = await TenantApiKeyValidation.ValidateAsync(hash, Options.AdminKey, keys, Context.RequestAborted).ConfigureAwait(false);
        return claims is null ? AuthenticateResult.Fail("The API key is not valid.") : Success(claims);
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

    /// <summary>Whether <paramref name="request"/> carries an API key header (<c>Authorization</c> or <c>X-Api-Key</c>).</summary>
    internal static bool HasKeyHeader(HttpRequest request) => ReadKey(request) is not null;

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
