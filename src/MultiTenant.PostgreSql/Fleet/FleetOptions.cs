using Microsoft.Extensions.Options;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// Options of a fleet (several hosts sharing one PostgreSQL database), bound from the <c>WhatsAppTenants:Fleet</c> configuration section
/// and validated when the host starts. The host id is <c>WhatsAppTenants:HostId</c> (<c>TenantCoordinatorOptions.HostId</c>), which
/// must differ between the hosts.
/// </summary>
/// <remarks>
/// With the defaults, a tenant of a host that dies (crash, kill -9, network loss) runs again on a survivor just after the dead host's
/// leases expire, at most <see cref="LeaseTtl"/> (8 s) after its last renewal (5–8 s after the death, the survivors reconcile at the
/// expiry), plus the time its client takes to connect; a host that stops gracefully hands its tenants over at once (typically well under
/// a second plus the connect time).
/// A host that cannot renew stops its clients <see cref="SafetyMargin"/> before its leases could expire.
/// </remarks>
public sealed class FleetOptions
{
    /// <summary>The configuration section the options bind to: <c>WhatsAppTenants:Fleet</c>.</summary>
    public const string SectionName = "WhatsAppTenants:Fleet";

    /// <summary>
    /// How long a lease lasts after its last renewal, by the database clock: the bound on a dead host's failover. Default 8 s (with the
    /// default renewal every 3 s and margin 2 s, the shortest the rule of <see cref="RenewInterval"/> allows); 2 s to 10 min.
    /// </summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>
    /// How often a host renews all of its leases (one statement, whatever its tenant count). Default 3 s; 100 ms to 5 min;
    /// at most (<see cref="LeaseTtl"/> − <see cref="SafetyMargin"/>) / 2, so one failed renewal is survived.
    /// </summary>
    public TimeSpan RenewInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long before its leases could expire a host that could not renew stops its clients, measured on the local monotonic clock from
    /// the start of the last successful renewal. Covers the time clients take to disconnect and clock rate drift. Default 2 s;
    /// 100 ms to 1 min; less than <see cref="LeaseTtl"/>.
    /// </summary>
    public TimeSpan SafetyMargin { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often a host writes its heartbeat (<c>hosts.last_seen = now()</c>). Default 2 s; 100 ms to 5 min.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How many heartbeats a host may miss before the others count it as dead and place its tenants elsewhere (they still wait for its
    /// leases to expire). Default 3 (6 s with the default heartbeat); 2 to 100.
    /// </summary>
    public int DeadAfterMissedHeartbeats { get; set; } = 3;

    /// <summary>
    /// How often a host reconciles even without a notification: reads the desired tenants and the live hosts, claims the tenants placed
    /// on it whose lease is free or expired, and hands over the ones placed elsewhere. Start, stop, join and leave notifications trigger it
    /// at once. Default 1 s; 50 ms to 5 min.
    /// </summary>
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The most tenants this host runs, or <see langword="null"/> (default) for no limit. Tenants that no live host has room for stay
    /// unplaced until one has.
    /// </summary>
    public int? Capacity { get; set; }

    /// <summary>The most leases acquired in one statement. Default 1,000; 1 to 100,000.</summary>
    public int AcquireBatchSize { get; set; } = 1000;

    /// <summary>
    /// How long a host that does not run a tenant waits for the tenant's owner host to answer a relayed send (any host accepts any send;
    /// the request and its answer go through the database and its notifications, polled every second as a fallback). When it passes,
    /// the send fails as a transient <c>TenantSendException</c> with error code <c>relay_timeout</c>; the owner may still have sent it.
    /// Default 15 s; 1 s to 2 min.
    /// </summary>
    public TimeSpan RelayTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The most connections of the fleet's coordination pool (renewals, heartbeats, acquisitions, releases, reconciles and the one LISTEN
    /// connection), kept apart from the store's pool so that API load can never starve a renewal. Default 5; 4 to 50. Used when
    /// <c>UsePostgreSql(url)</c> built the data source; with a data source the host registered, register the coordination one as a keyed
    /// service (<see cref="CoordinationDataSourceKey"/>).
    /// </summary>
    public int CoordinationPoolSize { get; set; } = 5;

    /// <summary>
    /// The service key of an <c>NpgsqlDataSource</c> the host may register for the fleet's coordination traffic
    /// (<c>services.AddKeyedSingleton&lt;NpgsqlDataSource&gt;(FleetOptions.CoordinationDataSourceKey, ...)</c>), with a pool of its own.
    /// When none is registered and the host registered the store's data source itself, coordination shares that data source's pool
    /// (a warning is logged at start): API load that fills it can then delay renewals until the leases are lost.
    /// </summary>
    public const string CoordinationDataSourceKey = "MultiTenant.Fleet.Coordination";

    /// <summary>How long after a missed heartbeat a host counts as dead: <see cref="HeartbeatInterval"/> × <see cref="DeadAfterMissedHeartbeats"/>.</summary>
    public TimeSpan DeadAfter => HeartbeatInterval * DeadAfterMissedHeartbeats;

    internal FleetOptions Clone() => (FleetOptions)MemberwiseClone();
}

/// <summary>Validates <see cref="FleetOptions"/> when the host starts.</summary>
internal sealed class FleetOptionsValidator : IValidateOptions<FleetOptions>
{
    public ValidateOptionsResult Validate(string? name, FleetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        Check(failures, nameof(options.LeaseTtl), options.LeaseTtl, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(10));
        Check(failures, nameof(options.RenewInterval), options.RenewInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Check(failures, nameof(options.SafetyMargin), options.SafetyMargin, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1));
        Check(failures, nameof(options.HeartbeatInterval), options.HeartbeatInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Check(failures, nameof(options.ReconcileInterval), options.ReconcileInterval, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(5));
        Check(failures, nameof(options.RelayTimeout), options.RelayTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(2));
        if (options.DeadAfterMissedHeartbeats is < 2 or > 100)
        {
            failures.Add($"{FleetOptions.SectionName}:{nameof(options.DeadAfterMissedHeartbeats)} must be between 2 and 100; it is {options.DeadAfterMissedHeartbeats}.");
        }

        if (options.Capacity is < 0)
        {
            failures.Add($"{FleetOptions.SectionName}:{nameof(options.Capacity)} must not be negative.");
        }

        if (options.CoordinationPoolSize is < 4 or > 50)
        {
            failures.Add($"{FleetOptions.SectionName}:{nameof(options.CoordinationPoolSize)} must be between 4 and 50; it is {options.CoordinationPoolSize}.");
        }

        if (options.AcquireBatchSize is < 1 or > 100_000)
        {
            failures.Add($"{FleetOptions.SectionName}:{nameof(options.AcquireBatchSize)} must be between 1 and 100,000.");
        }

        if (failures.Count == 0 && options.SafetyMargin >= options.LeaseTtl)
        {
            failures.Add($"{FleetOptions.SectionName}:{nameof(options.SafetyMargin)} ({options.SafetyMargin}) must be less than {nameof(options.LeaseTtl)} ({options.LeaseTtl}).");
        }

        if (failures.Count == 0 && options.RenewInterval * 2 > options.LeaseTtl - options.SafetyMargin)
        {
            failures.Add(
                $"{FleetOptions.SectionName}:{nameof(options.RenewInterval)} ({options.RenewInterval}) must be at most half of {nameof(options.LeaseTtl)} − {nameof(options.SafetyMargin)} ({options.LeaseTtl - options.SafetyMargin}), so that one failed renewal does not stop the clients.");
        }

        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }

    internal static void ThrowIfInvalid(FleetOptions options) => OptionsChecks.ThrowIfInvalid(new FleetOptionsValidator(), options);

    private static void Check(List<string> failures, string name, TimeSpan value, TimeSpan min, TimeSpan max) =>
        OptionsChecks.Range(failures, FleetOptions.SectionName, name, value, min, max);
}
