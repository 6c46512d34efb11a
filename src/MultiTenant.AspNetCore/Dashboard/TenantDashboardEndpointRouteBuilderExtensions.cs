using MultiTenant;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Dashboard;
using MultiTenant.AspNetCore.Http;
using MultiTenant.AspNetCore.Security;
using MultiTenant.Clients;
using MultiTenant.Hosting;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the tenant dashboard.</summary>
public static class TenantDashboardEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps a live dashboard of the tenants under <paramref name="pattern"/> (default: the root): <c>GET {pattern}/</c> renders every
    /// tenant with its state, owner host, error, last change, message counts (in and out, on the host that runs it) and pairing step
    /// (filter <c>?q=</c>, <c>?status=</c>, paging <c>?page=</c> and <c>?size=</c>, 50 per page by default, at most 500) and a per-host
    /// summary (tenants, connected, in error, and for this host queue depth and message counts); <c>GET {pattern}/events</c> streams
    /// status and pairing changes as server-sent events, and every 2 seconds this host's summary and the message counts of the page's
    /// rows (<c>?ids=</c>), which the page applies without a reload; <c>POST {pattern}/tenants/{business_id}/start</c>,
    /// <c>/stop</c> and <c>/restart</c> drive the tenant.
    /// <para>Sign-in: a browser cannot send API key headers, so <c>GET {pattern}/signin</c> shows a form where an API key is pasted;
    /// <c>POST {pattern}/signin</c> checks it like the header scheme (the admin key or a tenant key) and sets the dashboard's cookie
    /// (<see cref="MultiTenant.AspNetCore.Security.TenantApiAuthentication.DashboardCookieScheme"/>: HttpOnly, SameSite=Strict, Secure
    /// over HTTPS, a Data Protection ticket, 8 hours sliding). The key is checked again against the store on every request, so revoking
    /// it signs the browser out; <c>POST {pattern}/signout</c> signs out. An anonymous <c>GET {pattern}/</c> is redirected to the form,
    /// the other endpoints answer 401. A signed-in browser's POSTs must carry the page's anti-forgery token (the page script sends it as
    /// the <c>RequestVerificationToken</c> header): without it 400. Requests with an API key header (<c>Authorization: Bearer</c> or
    /// <c>X-Api-Key</c>) work as before, without cookie or token. Only these endpoints read the cookie; <c>MapTenantApi()</c> stays
    /// header-only.</para>
    /// <para>A tenant key sees its own tenant only (page, host summary, events, pairing) and acts on it only (403 otherwise); the admin
    /// key sees and drives every tenant. Behind several hosts, share the host's Data Protection key ring
    /// (<c>services.AddDataProtection().PersistKeysTo…()</c>) so that every host reads the cookie.</para>
    /// Returns the group for further conventions.
    /// </summary>
    /// <exception cref="InvalidOperationException"><c>AddWhatsAppTenants()</c> or <c>AddTenantApi()</c> was not called.</exception>
    public static RouteGroupBuilder MapTenantDashboard(this IEndpointRouteBuilder endpoints, string pattern = "")
    {
        RequiredServices.ThrowIfTenantsMissing(endpoints, nameof(MapTenantDashboard));
        if (endpoints.ServiceProvider.GetService<TenantApiSecurityMarker>() is null)
        {
            throw new InvalidOperationException(
                "MapTenantDashboard() needs the API key authentication. Call services.AddWhatsAppTenants().AddTenantApi() when configuring services.");
        }

        string root = "/" + pattern.Trim('/');
        string pagePath = root.TrimEnd('/') + "/";
        string signInPath = root.TrimEnd('/') + "/signin";
        var group = endpoints.MapGroup(pattern).ExcludeFromDescription();
        group.RequireAuthorization(TenantApiAuthentication.DashboardPolicy);
        group.MapGet("/", RenderAsync).WithMetadata(new DashboardPageMetadata(signInPath));
        group.MapGet("/events", StreamAsync);
        group.MapPost("/tenants/{businessId}/{verb}", DashboardActions.ActAsync);
        group.MapGet("/signin", context => DashboardSignIn.FormAsync(context, pagePath)).AllowAnonymous();
        group.MapPost("/signin", context => DashboardSignIn.SignInAsync(context, pagePath)).AllowAnonymous();
        group.MapPost("/signout", context => DashboardSignIn.SignOutAsync(context, signInPath));
        return group;
    }

    private static async Task RenderAsync(HttpContext context)
    {
        var coordinator = context.RequestServices.GetRequiredService<ITenantCoordinator>();
        var pairing = context.RequestServices.GetRequiredService<TenantPairingBoard>();
        var query = context.Request.Query;
        TenantState? state = null;
        if (query["status"].ToString() is { Length: > 0 } wanted)
        {
            state = StateFilter.Parse(wanted);
            if (state is null)
            {
                await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "Unknown status filter; use starting, connected, disconnected, error or stopped.").ConfigureAwait(false);
                return;
            }
        }

        int page = int.TryParse(query["page"], out int p) ? p : 1;
        int size = int.TryParse(query["size"], out int n) ? n : DashboardQuery.DefaultPageSize;
        var all = DashboardActions.Visible(context, await coordinator.ListStatusesAsync(context.RequestAborted).ConfigureAwait(false));
        var traffic = context.RequestServices.GetRequiredService<MultiTenant.Diagnostics.ITenantTrafficReader>();
        var model = DashboardQuery.Build(all, query["q"], state, page, size, Visible(context, pairing.GetAll()), traffic, coordinator.HostId);
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        var basePath = (context.Request.PathBase + context.Request.Path).Value?.TrimEnd('/') ?? string.Empty;
        var tokens = context.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(context);
        var session = new DashboardSession(
            DashboardSignIn.Describe(context.User),
            tokens.RequestToken ?? string.Empty,
            tokens.HeaderName ?? "RequestVerificationToken",
            tokens.FormFieldName,
            SignedIn: !TenantApiKeyAuthenticationHandler.HasKeyHeader(context.Request));
        await context.Response.WriteAsync(DashboardView.Render(model, basePath, session), context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task StreamAsync(HttpContext context)
    {
        var statuses = context.RequestServices.GetRequiredService<TenantStatusFeed>();
        var pairing = context.RequestServices.GetRequiredService<TenantPairingBoard>();
        var aborted = context.RequestAborted;
        var user = context.User;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-store";
        var statusChanges = statuses.ReadChangesAsync(aborted); // registered now: the client misses nothing after the first line
        var pairingChanges = pairing.ReadChangesAsync(aborted);
        await context.Response.WriteAsync(": live\n\n", aborted).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(aborted).ConfigureAwait(false);

        // One writer for both feeds: the two readers hand their lines to it through a gate, so events never interleave.
        var gate = new SemaphoreSlim(1, 1);
        try
        {
            await Task.WhenAll(
                PumpAsync(context, gate, "status", statusChanges, s => Sees(user, s.BusinessId) ? DashboardJson.Status(s) : null, aborted),
                PumpAsync(context, gate, "pairing", pairingChanges, u => Sees(user, u.BusinessId) ? DashboardJson.Pairing(u) : null, aborted),
                DashboardTraffic.PumpAsync(
                    context,
                    gate,
                    context.RequestServices.GetRequiredService<MultiTenant.Diagnostics.ITenantTrafficReader>(),
                    context.RequestServices.GetRequiredService<ITenantCoordinator>(),
                    context.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System,
                    aborted)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The browser went away.
        }
        finally
        {
            gate.Dispose();
        }
    }

    private static async Task PumpAsync<T>(
        HttpContext context, SemaphoreSlim gate, string name, IAsyncEnumerable<T> items, Func<T, string?> json, CancellationToken cancellationToken)
    {
        await foreach (var item in items.ConfigureAwait(false))
        {
            if (json(item) is not { } data)
            {
                continue;
            }

            var line = "event: " + name + "\ndata: " + data + "\n\n";
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await context.Response.WriteAsync(line, cancellationToken).ConfigureAwait(false);
                await context.Response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                gate.Release();
            }
        }
    }

    private static bool Sees(System.Security.Claims.ClaimsPrincipal user, TenantId tenant) => TenantApiAuthentication.MayActFor(user, tenant);

    private static List<TenantPairingChallenge> Visible(HttpContext context, IReadOnlyList<TenantPairingChallenge> all) =>
        all.Where(p => Sees(context.User, p.BusinessId)).ToList();
}
