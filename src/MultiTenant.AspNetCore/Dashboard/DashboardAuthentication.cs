using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MultiTenant.AspNetCore.Http;
using MultiTenant.AspNetCore.Security;
using MultiTenant.Security;

namespace MultiTenant.AspNetCore.Dashboard;

/// <summary>Marks the dashboard's page endpoint: an anonymous browser asking for it is sent to <see cref="SignInPath"/>.</summary>
internal sealed record DashboardPageMetadata(string SignInPath);

/// <summary>
/// The dashboard's browser sign-in: a cookie scheme (<see cref="TenantApiAuthentication.DashboardCookieScheme"/>) whose ticket also
/// carries the hash of the API key that signed in, checked again on every request (a revoked key signs the browser out), and the
/// forwarding scheme <see cref="TenantApiAuthentication.DashboardScheme"/> that lets API key headers through as well.
/// </summary>
internal static class DashboardAuthentication
{
    /// <summary>The ticket property with the base64 SHA-256 hash of the key that signed in.</summary>
    public const string KeyHashItem = ".whatsapp_tenants.key_hash";

    /// <summary>The cookie's name.</summary>
    public const string CookieName = "WhatsAppTenants.Dashboard";

    /// <summary>How long a sign-in lasts without a request (sliding).</summary>
    public static readonly TimeSpan SignInLifetime = TimeSpan.FromHours(8);

    public static void Register(IServiceCollection services, AuthenticationBuilder authentication)
    {
        services.AddAntiforgery();
        authentication.AddCookie(TenantApiAuthentication.DashboardCookieScheme, static o =>
        {
            o.Cookie.Name = CookieName;
            o.Cookie.HttpOnly = true;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.IsEssential = true;
            o.ExpireTimeSpan = SignInLifetime;
            o.SlidingExpiration = true;
            o.Events.OnValidatePrincipal = ValidateAsync;
            o.Events.OnRedirectToLogin = ChallengeAsync;
            o.Events.OnRedirectToAccessDenied = static c =>
                Problems.WriteAsync(c.HttpContext, StatusCodes.Status403Forbidden, "This API key may not act on this resource.");
        });
        authentication.AddPolicyScheme(TenantApiAuthentication.DashboardScheme, displayName: null, static o =>
            o.ForwardDefaultSelector = static c => TenantApiKeyAuthenticationHandler.HasKeyHeader(c.Request)
                ? TenantApiAuthentication.Scheme
                : TenantApiAuthentication.DashboardCookieScheme);
    }

    /// <summary>The admin key currently configured (the same option the header scheme reads).</summary>
    public static string? AdminKey(HttpContext context) =>
        context.RequestServices.GetRequiredService<IOptionsMonitor<TenantApiKeyAuthenticationOptions>>().Get(TenantApiAuthentication.Scheme).AdminKey;

    /// <summary>
    /// Whether a POST is not a cross-site forgery: one with an API key header cannot be (a browser does not add it cross-site); one
    /// authenticated by the cookie needs the anti-forgery token the page hands its script, in the <c>RequestVerificationToken</c>
    /// header (or the form field of the sign-out form).
    /// </summary>
    public static async Task<bool> IsNotForgedAsync(HttpContext context) =>
        TenantApiKeyAuthenticationHandler.HasKeyHeader(context.Request)
        || await context.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(context).ConfigureAwait(false);

    private static async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        var http = context.HttpContext;
        byte[]? hash = context.Properties.Items.TryGetValue(KeyHashItem, out string? text) ? FromBase64(text) : null;
        bool valid = hash is { Length: TenantApiKeys.HashLength }
            && await TenantApiKeyValidation.ValidateAsync(
                hash, AdminKey(http), http.RequestServices.GetRequiredService<ITenantApiKeyStore>(), http.RequestAborted).ConfigureAwait(false) is not null;
        if (!valid)
        {
            context.RejectPrincipal();
            await http.SignOutAsync(TenantApiAuthentication.DashboardCookieScheme).ConfigureAwait(false);
        }
    }

    private static Task ChallengeAsync(RedirectContext<CookieAuthenticationOptions> context)
    {
        var http = context.HttpContext;
        if (HttpMethods.IsGet(http.Request.Method) && http.GetEndpoint()?.Metadata.GetMetadata<DashboardPageMetadata>() is { } page)
        {
            http.Response.Redirect(http.Request.PathBase + page.SignInPath);
            return Task.CompletedTask;
        }

        http.Response.Headers.WWWAuthenticate = "Bearer";
        return Problems.WriteAsync(
            http,
            StatusCodes.Status401Unauthorized,
            "Sign in on the dashboard's sign-in page, or send an API key as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'.");
    }

    private static byte[]? FromBase64(string? text)
    {
        if (text is null)
        {
            return null;
        }

        var bytes = new byte[TenantApiKeys.HashLength];
        return Convert.TryFromBase64String(text, bytes, out int written) && written == bytes.Length ? bytes : null;
    }
}
