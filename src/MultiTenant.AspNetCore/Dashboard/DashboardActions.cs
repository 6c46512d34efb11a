using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Http;
using MultiTenant.AspNetCore.Security;
using MultiTenant.Clients;
using MultiTenant.Hosting;

namespace MultiTenant.AspNetCore.Dashboard;

/// <summary>
/// <c>POST {dashboard}/tenants/{business_id}/start|stop|restart</c>, the page's buttons. A signed-in browser must send the page's
/// anti-forgery token (cookie-only POSTs are refused, 400); a tenant key acts on its own tenant only (403 otherwise).
/// </summary>
internal static class DashboardActions
{
    public static Task RefuseForgedAsync(HttpContext context) => Problems.WriteAsync(
        context,
        StatusCodes.Status400BadRequest,
        "The request lacks the dashboard's anti-forgery token (header 'RequestVerificationToken'); reload the page and try again.");

    /// <summary>The statuses <paramref name="context"/>'s user may see: all for the admin, its own tenant's for a tenant key.</summary>
    public static IReadOnlyList<TenantStatus> Visible(HttpContext context, IReadOnlyList<TenantStatus> all)
    {
        var user = context.User;
        if (TenantApiAuthentication.IsAdmin(user))
        {
            return all;
        }

        var own = new List<TenantStatus>(1);
        foreach (var s in all)
        {
            if (TenantApiAuthentication.MayActFor(user, s.BusinessId))
            {
                own.Add(s);
            }
        }

        return own;
    }

    public static async Task ActAsync(HttpContext context)
    {
        if (!await DashboardAuthentication.IsNotForgedAsync(context).ConfigureAwait(false))
        {
            await RefuseForgedAsync(context).ConfigureAwait(false);
            return;
        }

        var coordinator = context.RequestServices.GetRequiredService<ITenantCoordinator>();
        var businessId = context.Request.RouteValues["businessId"] as string;
        var action = context.Request.RouteValues["verb"] as string;
        if (!TenantId.TryParse(businessId, out var tenant))
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, TenantId.Validate(businessId) ?? "Invalid business id.").ConfigureAwait(false);
            return;
        }

        if (!TenantApiAuthentication.MayActFor(context.User, tenant))
        {
            await Problems.WriteAsync(context, StatusCodes.Status403Forbidden, "This API key may not act on this resource.").ConfigureAwait(false);
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
                    status = await Api.TenantRestart.RunAsync(coordinator, tenant, aborted).ConfigureAwait(false);
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
}
