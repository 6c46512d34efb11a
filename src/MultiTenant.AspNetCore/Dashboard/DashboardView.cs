using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;

namespace MultiTenant.AspNetCore.Dashboard;

/// <summary>What one page of the dashboard shows: the filter, the page of tenants and the per-host summary.</summary>
internal sealed record DashboardPageModel(
    string Filter,
    TenantState? State,
    int Page,
    int PageSize,
    int Matching,
    IReadOnlyList<TenantStatus> Tenants,
    IReadOnlyList<DashboardHostSummary> Hosts,
    IReadOnlyList<TenantPairingChallenge> Pairing,
    IReadOnlyDictionary<TenantId, TenantTraffic> Traffic);

/// <summary>
/// Who looks at the page and the anti-forgery token its script sends with every POST (<paramref name="CsrfHeader"/>) and its sign-out
/// form posts (<paramref name="CsrfField"/>). <paramref name="SignedIn"/>: a browser signed in with the cookie (it gets a sign-out button).
/// </summary>
internal sealed record DashboardSession(string Who, string CsrfToken, string CsrfHeader, string CsrfField, bool SignedIn);

/// <summary>
/// One host's line of the summary: tenants by state from the statuses, and queue depth and message counts for this host (from
/// <see cref="ITenantTrafficReader"/>; <see langword="null"/> for another host of a fleet, whose counters live in its own process).
/// </summary>
internal sealed record DashboardHostSummary(string Host, int Tenants, int Connected, int Error, long? QueueDepth, long? MessagesIn, long? MessagesOut);

/// <summary>
/// Filters and pages the tenant list: one pass over the statuses (with one in-memory counter lookup for each tenant of this host), so
/// 10,000 tenants cost one list scan per page view.
/// </summary>
internal static class DashboardQuery
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;

    public static DashboardPageModel Build(
        IReadOnlyList<TenantStatus> all,
        string? filter,
        TenantState? state,
        int page,
        int pageSize,
        IReadOnlyList<TenantPairingChallenge> pairing,
        ITenantTrafficReader traffic,
        string localHost)
    {
        filter = (filter ?? string.Empty).Trim();
        pageSize = Math.Clamp(pageSize, 1, MaxPageSize);
        page = Math.Max(page, 1);
        int skip = (page - 1) * pageSize;
        var tenants = new List<TenantStatus>(pageSize);
        var hosts = new SortedDictionary<string, (int Tenants, int Connected, int Error)>(StringComparer.Ordinal);
        var rowTraffic = new Dictionary<TenantId, TenantTraffic>();
        long queue = 0, messagesIn = 0, messagesOut = 0;
        int matching = 0;
        for (int i = 0; i < all.Count; i++)
        {
            var s = all[i];
            var host = s.Host ?? string.Empty;
            hosts.TryGetValue(host, out var h);
            hosts[host] = (h.Tenants + 1, h.Connected + (s.State == TenantState.Connected ? 1 : 0), h.Error + (s.State == TenantState.Error ? 1 : 0));
            TenantTraffic t = default;
            bool counted = string.Equals(host, localHost, StringComparison.Ordinal) && traffic.TryGetTraffic(s.BusinessId, out t);
            if (counted)
            {
                queue += t.QueueDepth;
                messagesIn += t.MessagesIn;
                messagesOut += t.MessagesOut;
            }

            if ((state is null || s.State == state) && (filter.Length == 0 || s.BusinessId.Value.Contains(filter, StringComparison.OrdinalIgnoreCase)))
            {
                if (matching >= skip && tenants.Count < pageSize)
                {
                    tenants.Add(s);
                    if (counted)
                    {
                        rowTraffic[s.BusinessId] = t;
                    }
                }

                matching++;
            }
        }

        var summary = new List<DashboardHostSummary>(hosts.Count);
        foreach (var (host, h) in hosts)
        {
            summary.Add(string.Equals(host, localHost, StringComparison.Ordinal)
                ? new DashboardHostSummary(host, h.Tenants, h.Connected, h.Error, queue, messagesIn, messagesOut)
                : new DashboardHostSummary(host, h.Tenants, h.Connected, h.Error, null, null, null));
        }

        return new DashboardPageModel(filter, state, page, pageSize, matching, tenants, summary, pairing, rowTraffic);
    }
}

/// <summary>Renders the dashboard's HTML. Every value from a tenant goes through the HTML encoder.</summary>
internal static class DashboardView
{
    private static readonly HtmlEncoder Html = HtmlEncoder.Default;

    public static string Render(DashboardPageModel model, string basePath, DashboardSession session)
    {
        var pairing = new Dictionary<TenantId, TenantPairingChallenge>();
        foreach (var p in model.Pairing)
        {
            pairing[p.BusinessId] = p;
        }

        var sb = new StringBuilder(4096 + (model.Tenants.Count * 400));
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Tenants</title>")
          .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>").Append(DashboardAssets.Css).Append("</style></head>")
          .Append("<body data-base=\"").Append(Html.Encode(basePath)).Append("\" data-csrf=\"").Append(Html.Encode(session.CsrfToken))
          .Append("\" data-csrf-header=\"").Append(Html.Encode(session.CsrfHeader)).Append("\"><h1>Tenants</h1><div id=\"session\">signed in as <span id=\"who\">")
          .Append(Html.Encode(session.Who)).Append("</span>");
        if (session.SignedIn)
        {
            sb.Append(" <form id=\"signout\" method=\"post\" action=\"").Append(Html.Encode(basePath + "/signout")).Append("\"><input type=\"hidden\" name=\"")
              .Append(Html.Encode(session.CsrfField)).Append("\" value=\"").Append(Html.Encode(session.CsrfToken)).Append("\"><button type=\"submit\">sign out</button></form>");
        }

        sb.Append("</div>");

        sb.Append("<section id=\"hosts\"><h2>Hosts</h2><table><thead><tr><th>host</th><th>tenants</th><th>connected</th><th>error</th>")
          .Append("<th>queue depth</th><th>messages in</th><th>messages out</th></tr></thead><tbody>");
        foreach (var h in model.Hosts)
        {
            sb.Append("<tr data-host=\"").Append(Html.Encode(h.Host)).Append("\"><td>").Append(Html.Encode(h.Host.Length == 0 ? "(none)" : h.Host))
              .Append("</td><td class=\"tenants\">").Append(N(h.Tenants)).Append("</td><td class=\"connected\">").Append(N(h.Connected))
              .Append("</td><td class=\"error\">").Append(N(h.Error)).Append("</td><td class=\"queue\">").Append(N(h.QueueDepth))
              .Append("</td><td class=\"in\">").Append(N(h.MessagesIn)).Append("</td><td class=\"out\">").Append(N(h.MessagesOut)).Append("</td></tr>");
        }

        sb.Append("</tbody></table></section>");
        sb.Append("<form id=\"filter\" method=\"get\"><input name=\"q\" placeholder=\"business id contains…\" value=\"").Append(Html.Encode(model.Filter))
          .Append("\"><select name=\"status\"><option value=\"\">any state</option>");
        foreach (var st in (ReadOnlySpan<TenantState>)[TenantState.Starting, TenantState.Connected, TenantState.Disconnected, TenantState.Error, TenantState.Stopped])
        {
            var name = st.ToWireName();
            sb.Append("<option value=\"").Append(name).Append(model.State == st ? "\" selected>" : "\">").Append(name).Append("</option>");
        }

        sb.Append("</select><button type=\"submit\">Filter</button></form>");
        sb.Append("<p id=\"count\">").Append(N(model.Matching)).Append(" matching · page ").Append(N(model.Page)).Append("</p>");
        sb.Append("<table id=\"tenants\"><thead><tr><th>business id</th><th>state</th><th>host</th><th>error</th><th>updated</th><th>messages in</th><th>messages out</th><th>pairing</th><th></th></tr></thead><tbody>");
        foreach (var s in model.Tenants)
        {
            AppendRow(sb, s, pairing.GetValueOrDefault(s.BusinessId), model.Traffic.TryGetValue(s.BusinessId, out var t) ? t : null);
        }

        sb.Append("</tbody></table><nav id=\"pages\">");
        if (model.Page > 1)
        {
            sb.Append("<a rel=\"prev\" href=\"").Append(Html.Encode(PageLink(model, model.Page - 1))).Append("\">previous</a> ");
        }

        if ((long)model.Page * model.PageSize < model.Matching)
        {
            sb.Append("<a rel=\"next\" href=\"").Append(Html.Encode(PageLink(model, model.Page + 1))).Append("\">next</a>");
        }

        sb.Append("</nav><p id=\"live\">connecting…</p><script>").Append(DashboardAssets.Script).Append("</script></body></html>");
        return sb.ToString();
    }

    internal static void AppendRow(StringBuilder sb, TenantStatus s, TenantPairingChallenge? pairing, TenantTraffic? traffic)
    {
        var id = Html.Encode(s.BusinessId.Value);
        var state = s.State.ToWireName();
        sb.Append("<tr data-id=\"").Append(id).Append("\" class=\"").Append(state).Append("\"><td>").Append(id)
          .Append("</td><td class=\"state\">").Append(state)
          .Append("</td><td class=\"host\">").Append(Html.Encode(s.Host ?? string.Empty))
          .Append("</td><td class=\"error\">").Append(Html.Encode(s.Error ?? string.Empty))
          .Append("</td><td class=\"updated\">").Append(s.UpdatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture))
          .Append("</td><td class=\"in\">").Append(N(traffic?.MessagesIn)).Append("</td><td class=\"out\">").Append(N(traffic?.MessagesOut))
          .Append("</td><td class=\"pairing\">");
        if (pairing is not null)
        {
            sb.Append("<code class=\"qr\">").Append(Html.Encode(pairing.QrCode ?? pairing.PairingCode ?? string.Empty)).Append("</code>");
        }

        sb.Append("</td><td class=\"actions\"><button data-action=\"start\">start</button><button data-action=\"stop\">stop</button>")
          .Append("<button data-action=\"restart\">restart</button></td></tr>");
    }

    private static string PageLink(DashboardPageModel model, int page) =>
        "?q=" + Uri.EscapeDataString(model.Filter) + "&status=" + (model.State?.ToWireName() ?? string.Empty) + "&page=" + N(page);

    private static string N(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A count, or a dash where this host does not know it (another host's tenant or summary).</summary>
    private static string N(long? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "–";
}
