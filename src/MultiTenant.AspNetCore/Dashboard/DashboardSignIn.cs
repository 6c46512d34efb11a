using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Security;
using MultiTenant.Security;

namespace MultiTenant.AspNetCore.Dashboard;

/// <summary>
/// <c>GET|POST {dashboard}/signin</c> and <c>POST {dashboard}/signout</c>: a browser pastes an API key (admin or tenant) into a form,
/// the key is checked like an API key header, and the browser gets the dashboard's cookie. Both forms carry an anti-forgery token.
/// </summary>
internal static class DashboardSignIn
{
    /// <summary>The form field of the key.</summary>
    public const string KeyField = "api_key";

    private static readonly HtmlEncoder Html = HtmlEncoder.Default;

    /// <summary>The sign-in form; a browser already signed in goes on to the page.</summary>
    public static Task FormAsync(HttpContext context, string pagePath)
    {
        if (context.User.Identity?.IsAuthenticated == true)
        {
            context.Response.Redirect(context.Request.PathBase + pagePath);
            return Task.CompletedTask;
        }

        return WriteFormAsync(context, StatusCodes.Status200OK, message: null);
    }

    /// <summary>Checks the pasted key: a valid one signs the browser in (303 to the page); anything else shows the form again (400).</summary>
    public static async Task SignInAsync(HttpContext context, string pagePath)
    {
        if (!context.Request.HasFormContentType)
        {
            await WriteFormAsync(context, StatusCodes.Status400BadRequest, "Send the sign-in form.").ConfigureAwait(false);
            return;
        }

        if (!await context.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(context).ConfigureAwait(false))
        {
            await WriteFormAsync(context, StatusCodes.Status400BadRequest, "The sign-in form expired; paste the key again.").ConfigureAwait(false);
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        byte[]? hash = TenantApiKeyValidation.HashOf(form[KeyField].ToString().Trim());
        var claims = hash is null
            ? null
            : await TenantApiKeyValidation.ValidateAsync(
                hash, DashboardAuthentication.AdminKey(context), context.RequestServices.GetRequiredService<ITenantApiKeyStore>(),
                context.RequestAborted).ConfigureAwait(false);
        if (claims is null)
        {
            await WriteFormAsync(context, StatusCodes.Status400BadRequest, "The API key is not valid.").ConfigureAwait(false);
            return;
        }

        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, TenantApiAuthentication.DashboardCookieScheme));
        var properties = new AuthenticationProperties();
        properties.Items[DashboardAuthentication.KeyHashItem] = Convert.ToBase64String(hash!);
        await context.SignInAsync(TenantApiAuthentication.DashboardCookieScheme, principal, properties).ConfigureAwait(false);
        SeeOther(context, pagePath);
    }

    /// <summary>Signs the browser out (303 to the sign-in form). Needs the anti-forgery token like every POST of a signed-in browser.</summary>
    public static async Task SignOutAsync(HttpContext context, string signInPath)
    {
        if (!await DashboardAuthentication.IsNotForgedAsync(context).ConfigureAwait(false))
        {
            await DashboardActions.RefuseForgedAsync(context).ConfigureAwait(false);
            return;
        }

        await context.SignOutAsync(TenantApiAuthentication.DashboardCookieScheme).ConfigureAwait(false);
        SeeOther(context, signInPath);
    }

    /// <summary>Who is signed in, for the page's header: <c>admin</c> or <c>tenant key of …</c>.</summary>
    public static string Describe(ClaimsPrincipal user) =>
        TenantApiAuthentication.IsAdmin(user) ? "admin" : "tenant key of " + user.FindFirstValue(TenantApiAuthentication.BusinessIdClaim);

    private static void SeeOther(HttpContext context, string path)
    {
        context.Response.StatusCode = StatusCodes.Status303SeeOther;
        context.Response.Headers.Location = context.Request.PathBase.Add(new PathString(path)).Value;
    }

    private static Task WriteFormAsync(HttpContext context, int status, string? message)
    {
        var tokens = context.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(context);
        var sb = new StringBuilder(2048);
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in · Tenants</title>")
          .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>").Append(DashboardAssets.Css).Append("</style></head>")
          .Append("<body><h1>Tenants</h1><form id=\"signin\" method=\"post\"><p><label for=\"").Append(KeyField)
          .Append("\">API key (the admin key, or a tenant's key to see that tenant only)</label></p><p><input type=\"password\" id=\"")
          .Append(KeyField).Append("\" name=\"").Append(KeyField).Append("\" autocomplete=\"off\" required size=\"48\" autofocus>")
          .Append("<input type=\"hidden\" name=\"").Append(Html.Encode(tokens.FormFieldName)).Append("\" value=\"")
          .Append(Html.Encode(tokens.RequestToken ?? string.Empty)).Append("\"> <button type=\"submit\">Sign in</button></p>");
        if (message is not null)
        {
            sb.Append("<p id=\"signin-error\" class=\"error\">").Append(Html.Encode(message)).Append("</p>");
        }

        sb.Append("</form></body></html>");
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(sb.ToString(), context.RequestAborted);
    }
}
