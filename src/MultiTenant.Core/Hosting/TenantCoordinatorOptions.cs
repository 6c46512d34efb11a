using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace MultiTenant.Hosting;

/// <summary>
/// Options of the tenant coordinator, bound from the <c>WhatsAppTenants</c> configuration section and validated at start.
/// </summary>
public sealed class TenantCoordinatorOptions
{
    /// <summary>The configuration section the options bind to by default: <c>WhatsAppTenants</c>.</summary>
    public const string SectionName = "WhatsAppTenants";

    /// <summary>This host's id, shown as <c>host</c> in statuses. Default: the machine name.</summary>
    [Required(AllowEmptyStrings = false)]
    [StringLength(128)]
    public string HostId { get; set; } = Environment.MachineName;

    /// <summary>How often a connected tenant's client is probed to catch silent drops. Default 10 s; 100 ms to 1 h.</summary>
    public TimeSpan HealthCheckInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The base of the exponential reconnect backoff. Default 1 s; 10 ms to 1 min.</summary>
    public TimeSpan ReconnectBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The cap of the reconnect backoff. Default 5 min; 10 ms to 1 h; at least <see cref="ReconnectBaseDelay"/>.</summary>
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a connection must last for the backoff to reset to an immediate retry. Default 60 s; 0 to 1 h.</summary>
    public TimeSpan StableConnectionPeriod { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The most tenants that may be connecting at once on this host: the ceiling of the adaptive connect limit, which starts at 32 (or
    /// this value, when lower), grows while connects are fast and succeed, and is cut when they slow down (twice their usual latency) or
    /// fail, so a restart or failover storm connects as fast as the backend allows while a suffering backend gets less load.
    /// Default 1,000; 1 to 10,000.
    /// </summary>
    [Range(1, 10_000)]
    public int MaxConcurrentConnects { get; set; } = 1000;

    /// <summary>
    /// The most connect attempts this host begins per second (a token bucket holding one second's worth), whatever the concurrency
    /// limit. Default 1,000; 1 to 100,000.
    /// </summary>
    [Range(1, 100_000)]
    public int MaxConnectsPerSecond { get; set; } = 1000;

    /// <summary>
    /// Capacity of each tenant's event queue. When it is full the client waits (backpressure), so no event is lost.
    /// Default 1,024; 1 to 1,048,576.
    /// </summary>
    [Range(1, 1_048_576)]
    public int EventQueueCapacity { get; set; } = 1024;

    /// <summary>
    /// What a full event queue does: <see cref="Events.EventQueueFullMode.Wait"/> (default, lossless: the client waits) or an explicitly
    /// chosen lossy policy whose drops are counted (<c>whatsmeow_events_dropped_total</c>) and logged.
    /// </summary>
    public Events.EventQueueFullMode EventQueueFullMode { get; set; } = Events.EventQueueFullMode.Wait;

    /// <summary>How long one connect attempt may take before it counts as failed. Default 30 s; 100 ms to 10 min.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Per-tenant metric labels (<c>business_id</c>) are kept for at most this many tenants; events of further tenants are counted under
    /// <c>business_id="_other"</c>, so aggregate totals stay exact. Default 1,000; 0 to 1,000,000 (0 keeps no per-tenant labels).
    /// </summary>
    [Range(0, 1_000_000)]
    public int MaxTenantMetricLabels { get; set; } = 1000;

    /// <summary>
    /// The most tenants that may be running (desired running in the store, so counted across every host of a fleet); a start beyond it
    /// throws <see cref="TenantLimitReachedException"/> (the API answers 409 <c>tenant_limit_reached</c>). Tenants already running and
    /// resumed ones are never stopped by it. Default 0: unlimited; 0 to 10,000,000. Each start then reads the running tenants once.
    /// </summary>
    [Range(0, 10_000_000)]
    public int MaxTenants { get; set; }

    /// <summary>
    /// Whether tenants recorded as running in the registry are started when the host starts. Default true. Used by the default
    /// single-host placement; a fleet (every host on PostgreSQL) places the desired tenants over its live hosts and does not use it.
    /// </summary>
    public bool ResumeTenantsOnStart { get; set; } = true;

    /// <summary>
    /// When a tenant's ownership is lost (a fleet lease expired or was taken over), how long its event handlers may go on after its
    /// client was disconnected before their cancellation token is cancelled. The stop of that tenant never waits on another tenant and
    /// never blocks the renewal of other leases. Default 5 s; 0 to 5 min.
    /// </summary>
    public TimeSpan OwnershipLostDrainTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

[OptionsValidator]
internal sealed partial class TenantCoordinatorOptionsValidator : IValidateOptions<TenantCoordinatorOptions>
{
}

/// <summary>Cross-field rules the attributes cannot express.</summary>
internal sealed class TenantCoordinatorOptionsCrossValidator : IValidateOptions<TenantCoordinatorOptions>
{
    public ValidateOptionsResult Validate(string? name, TenantCoordinatorOptions options)
    {
        var failures = new List<string>();
        Check(failures, nameof(options.HealthCheckInterval), options.HealthCheckInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1));
        Check(failures, nameof(options.ReconnectBaseDelay), options.ReconnectBaseDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1));
        Check(failures, nameof(options.ReconnectMaxDelay), options.ReconnectMaxDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Check(failures, nameof(options.StableConnectionPeriod), options.StableConnectionPeriod, TimeSpan.Zero, TimeSpan.FromHours(1));
        Check(failures, nameof(options.ConnectTimeout), options.ConnectTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        Check(failures, nameof(options.OwnershipLostDrainTimeout), options.OwnershipLostDrainTimeout, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        if (failures.Count > 0)
        {
            return ValidateOptionsResult.Fail(failures);
        }

        if (options.ReconnectMaxDelay < options.ReconnectBaseDelay)
        {
            return ValidateOptionsResult.Fail(
                $"{nameof(TenantCoordinatorOptions.ReconnectMaxDelay)} ({options.ReconnectMaxDelay}) must be at least {nameof(TenantCoordinatorOptions.ReconnectBaseDelay)} ({options.ReconnectBaseDelay}).");
        }

        return ValidateOptionsResult.Success;
    }

    private static void Check(List<string> failures, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add($"WhatsAppTenants:{name} must be between {min} and {max}; it is {value}.");
        }
    }
}
