using MultiTenant;
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
    /// tenant with its state, owner host, error, last change and pairing step (filter <c>?q=</c>, <c>?status=</c>, paging <c>?page=</c>
    /// and <c>?size=</c>, 50 per page by default, at most 500) and a per-host summary; <c>GET {pattern}/events</c> streams status and
    /// pairing changes as server-sent events, which the page applies without a reload; <c>POST {pattern}/tenants/{business_id}/start</c>,
    /// <c>/stop</c> and <c>/restart</c> drive the tenant. Every endpoint requires the admin key
    /// (<see cref="MultiTenant.AspNetCore.Security.TenantApiAuthentication.AdminPolicy"/>, as <c>Authorization: Bearer</c> or
    /// <c>X-Api-Key</c>): the page lists every tenant, so tenant keys are refused (403) until it filters by scope. Returns the group for
    /// further conventions.
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

        var group = endpoints.MapGroup(pattern).ExcludeFromDescription();
        group.RequireAuthorization(TenantApiAuthentication.AdminPolicy);
        group.MapGet("/", RenderAsync);
        group.MapGet("/events", StreamAsync);
        group.MapPost("/tenants/{businessId}/{verb}", ActAsync);
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
            state = ParseState(wanted);
            if (state is null)
            {
                await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "Unknown status filter; use starting, connected, disconnected, error or stopped.").ConfigureAwait(false);
                return;
            }
        }

        int page = int.TryParse(query["page"], out int p) ? p : 1;
        int size = int.TryParse(query["size"], out int n) ? n : DashboardQuery.DefaultPageSize;
        var all = await coordinator.ListStatusesAsync(context.RequestAborted).ConfigureAwait(false);
        var model = DashboardQuery.Build(all, query["q"], state, page, size, pairing.GetAll());
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        var basePath = (context.Request.PathBase + context.Request.Path).Value?.TrimEnd('/') ?? string.Empty;
        await context.Response.WriteAsync(DashboardView.Render(model, basePath), context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task StreamAsync(HttpContext context)
    {
        var statuses = context.RequestServices.GetRequiredService<TenantStatusFeed>();
        var pairing = context.RequestServices.GetRequiredService<TenantPairingBoard>();
        var aborted = context.RequestAborted;
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
                PumpAsync(context, gate, "status", statusChanges, static s => DashboardJson.Status(s), aborted),
                PumpAsync(context, gate, "pairing", pairingChanges, static u => DashboardJson.Pairing(u), aborted)).ConfigureAwait(false);
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
        HttpContext context, SemaphoreSlim gate, string name, IAsyncEnumerable<T> items, Func<T, string> json, CancellationToken cancellationToken)
    {
        await foreach (var item in items.ConfigureAwait(false))
        {
            var line = "event: " + name + "\ndata: " + json(item) + "\n\n";
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

    private static async Task ActAsync(HttpContext context)
    {
        var coordinator = context.RequestServices.GetRequiredService<ITenantCoordinator>();
        var businessId = context.Request.RouteValues["businessId"] as string;
        var action = context.Request.RouteValues["verb"] as string;
        if (!TenantId.TryParse(businessId, out var tenant))
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, TenantId.Validate(businessId) ?? "Invalid business id.").ConfigureAwait(false);
            return;
        }

        var aborted = context.RequestAborted;
        try
        {
            TenantStatus status;
            switch (action)
            {
                case "start":
                    status = await coordinator.StartAsync(tenant, aborted).ConfigureAwait(false);
                    break;
                case "stop":
                    status = await coordinator.StopAsync(tenant, aborted).ConfigureAwait(false);
                    break;
                case "restart":
                    await coordinator.StopAsync(tenant, aborted).ConfigureAwait(false);
                    status = await coordinator.StartAsync(tenant, aborted).ConfigureAwait(false);
                    break;
                default:
                    await Problems.WriteAsync(context, StatusCodes.Status404NotFound, "Unknown action; use start, stop or restart.").ConfigureAwait(false);
                    return;
            }

            context.Response.ContentType = "application/json; charset=utf-8";
            await context.Response.WriteAsync(DashboardJson.Status(status), aborted).ConfigureAwait(false);
        }
        catch (TenantNotFoundException)
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, "The tenant is not known.").ConfigureAwait(false);
        }
        catch (TenantAlreadyRunningException)
        {
            await Problems.WriteAsync(context, StatusCodes.Status409Conflict, "The tenant is already running.").ConfigureAwait(false);
        }
        catch (TenantCoordinatorStoppingException)
        {
            await Problems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "The host is shutting down.").ConfigureAwait(false);
        }
    }

    private static TenantState? ParseState(string name)
    {
        foreach (var s in (ReadOnlySpan<TenantState>)[TenantState.Stopped, TenantState.Starting, TenantState.Connected, TenantState.Disconnected, TenantState.Error])
        {
            if (s.ToWireName() == name)
            {
                return s;
            }
        }

        return null;
    }
}
