using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using MultiTenant.AspNetCore.Security;
using MultiTenant.Diagnostics;
using MultiTenant.Hosting;

namespace MultiTenant.AspNetCore.Dashboard;

/// <summary>
/// The dashboard's <c>traffic</c> server-sent event, every <see cref="Interval"/>: this host's summary line (tenants by state, queue
/// depth, messages in and out) and the message counts of the rows the page shows (<c>?ids=</c> on the event stream, at most
/// <see cref="DashboardQuery.MaxPageSize"/>). Its cost does not grow with the fleet: an admin's summary is one walk over this host's
/// supervisors (as the queue depth gauge), a tenant key's a lookup per tenant of the key, and each row one lookup.
/// </summary>
internal static class DashboardTraffic
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    /// <summary>The ids of <c>?ids=a,b,c</c> that are valid and that <paramref name="user"/> sees (others are left out).</summary>
    public static List<TenantId> Rows(HttpRequest request, ClaimsPrincipal user)
    {
        var rows = new List<TenantId>();
        foreach (var part in request.Query["ids"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (rows.Count < DashboardQuery.MaxPageSize && TenantId.TryParse(part, out var tenant) && TenantApiAuthentication.MayActFor(user, tenant))
            {
                rows.Add(tenant);
            }
        }

        return rows;
    }

    /// <summary>One <c>traffic</c> event's JSON, or <see langword="null"/> when nothing changed since <paramref name="previous"/>.</summary>
    public static string? Next(ITenantTrafficReader traffic, ITenantCoordinator coordinator, ClaimsPrincipal user, List<TenantId> rows, string? previous)
    {
        string json = DashboardJson.Traffic(w =>
        {
            w.WriteString("host", coordinator.HostId);
            if (TenantApiAuthentication.IsAdmin(user))
            {
                var host = traffic.GetHostTraffic();
                w.WriteNumber("tenants", host.Tenants.Total);
                w.WriteNumber("connected", host.Tenants.Connected);
                w.WriteNumber("error", host.Tenants.Error);
                w.WriteNumber("queue_depth", host.QueueDepth);
                w.WriteNumber("messages_in", host.MessagesIn);
                w.WriteNumber("messages_out", host.MessagesOut);
            }
            else
            {
                // A tenant key's summary covers its own tenants only, like the rest of its page.
                long queue = 0, messagesIn = 0, messagesOut = 0;
                foreach (var claim in user.FindAll(TenantApiAuthentication.BusinessIdClaim))
                {
                    if (TenantId.TryParse(claim.Value, out var tenant) && traffic.TryGetTraffic(tenant, out var t))
                    {
                        queue += t.QueueDepth;
                        messagesIn += t.MessagesIn;
                        messagesOut += t.MessagesOut;
                    }
                }

                w.WriteNumber("queue_depth", queue);
                w.WriteNumber("messages_in", messagesIn);
                w.WriteNumber("messages_out", messagesOut);
            }

            w.WriteStartArray("rows");
            foreach (var tenant in rows)
            {
                if (traffic.TryGetTraffic(tenant, out var t))
                {
                    w.WriteStartObject();
                    w.WriteString("business_id", tenant.Value);
                    w.WriteNumber("messages_in", t.MessagesIn);
                    w.WriteNumber("messages_out", t.MessagesOut);
                    w.WriteEndObject();
                }
            }

            w.WriteEndArray();
        });
        return string.Equals(json, previous, StringComparison.Ordinal) ? null : json;
    }

    /// <summary>Writes a <c>traffic</c> event every <see cref="Interval"/> while it changes, until the browser goes away.</summary>
    public static async Task PumpAsync(
        HttpContext context, SemaphoreSlim gate, ITenantTrafficReader traffic, ITenantCoordinator coordinator, TimeProvider time, CancellationToken cancellationToken)
    {
        var user = context.User;
        var rows = Rows(context.Request, user);
        string? last = null;
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            if (Next(traffic, coordinator, user, rows, last) is not { } json)
            {
                continue;
            }

            last = json;
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await context.Response.WriteAsync("event: traffic\ndata: " + json + "\n\n", cancellationToken).ConfigureAwait(false);
                await context.Response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                gate.Release();
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }
}
