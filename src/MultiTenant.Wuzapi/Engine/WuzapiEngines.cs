using Microsoft.Extensions.Options;

namespace MultiTenant.Wuzapi.Engine;

/// <summary>
/// The configured engines (<see cref="WuzapiOptions.Engines"/>) and the placement of new tenants: the engine
/// <see cref="WuzapiOptions.TenantEngines"/> names for the tenant, else the next one in round-robin order (ordinal order of the names,
/// counted on this host). The placement is recorded with the tenant's engine user, so it is asked once per tenant.
/// </summary>
internal sealed class WuzapiEngines
{
    private readonly Dictionary<string, WuzapiEngineApi> _engines = new(StringComparer.Ordinal);
    private readonly WuzapiEngineApi[] _order;
    private readonly Dictionary<string, string> _assigned;
    private int _next = -1;

    public WuzapiEngines(IOptions<WuzapiOptions> options, IHttpClientFactory httpClients, TimeProvider time)
    {
        var value = options.Value;
        foreach (var (name, engine) in value.Engines)
        {
            // A trailing slash, so the engine's paths resolve below a base path (http://proxy/wuzapi/ + admin/users).
            var baseUrl = engine.BaseUrl!.AbsoluteUri.EndsWith('/') ? engine.BaseUrl : new Uri(engine.BaseUrl.AbsoluteUri + "/");
            _engines[name] = new WuzapiEngineApi(name, baseUrl, engine.AdminToken!, httpClients.CreateClient(WuzapiOptions.HttpClientName), value.RequestTimeout, time);
        }

        _order = [.. _engines.OrderBy(static e => e.Key, StringComparer.Ordinal).Select(static e => e.Value)];
        _assigned = new Dictionary<string, string>(value.TenantEngines, StringComparer.Ordinal);
    }

    /// <summary>The engine named <paramref name="name"/>, or <see langword="null"/> when it is not configured (any more).</summary>
    public WuzapiEngineApi? Find(string name) => _engines.GetValueOrDefault(name);

    /// <summary>The engine for a new tenant.</summary>
    public WuzapiEngineApi Assign(TenantId tenant)
    {
        if (_assigned.TryGetValue(tenant.Value, out string? name) && _engines.TryGetValue(name, out var configured))
        {
            return configured;
        }

        uint next = (uint)Interlocked.Increment(ref _next);
        return _order[next % (uint)_order.Length];
    }
}
