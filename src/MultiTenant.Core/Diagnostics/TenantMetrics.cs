using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace MultiTenant.Diagnostics;

/// <summary>
/// The instruments of MultiTenant, on a <see cref="Meter"/> named <see cref="MeterName"/> created through <see cref="IMeterFactory"/>.
/// </summary>
/// <remarks>
/// Prometheus names (through OpenTelemetry's exporter): <c>whatsmeow_tenants_total</c>, <c>whatsmeow_tenants_connected</c>,
/// <c>whatsmeow_tenants_disconnected</c>, <c>whatsmeow_tenants_starting</c>, <c>whatsmeow_tenants_error</c>,
/// <c>whatsmeow_tenant_messages_total{business_id,direction}</c>, <c>whatsmeow_tenant_errors_total{business_id,kind}</c>,
/// <c>whatsmeow_tenant_reconnects_total{business_id}</c>, <c>whatsmeow_handler_duration_seconds</c>,
/// <c>whatsmeow_queue_depth</c>, <c>whatsmeow_events_dropped_total</c>, <c>whatsmeow_db_pool_connections{state}</c>.
/// </remarks>
public sealed class TenantMetrics : IDisposable
{
    /// <summary>The meter's name: <c>MultiTenant</c>. Add it to your OpenTelemetry meter provider.</summary>
    public const string MeterName = "MultiTenant";

    /// <summary>The <c>business_id</c> label value of tenants beyond the per-tenant label limit.</summary>
    public const string OtherTenantsLabel = "_other";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly int _maxLabels;
    private readonly ConcurrentDictionary<TenantId, KeyValuePair<string, object?>> _labels = new();
    private readonly Lock _labelGate = new();
    private int _labelCount;

    internal TenantMetrics(IMeterFactory? meterFactory, int maxTenantLabels)
    {
        _maxLabels = maxTenantLabels;
        if (meterFactory is null)
        {
            _meter = new Meter(MeterName);
            _ownsMeter = true;
        }
        else
        {
            _meter = meterFactory.Create(new MeterOptions(MeterName));
        }

        Messages = _meter.CreateCounter<long>("whatsmeow.tenant.messages", "{message}", "Messages received and sent, per tenant.");
        Errors = _meter.CreateCounter<long>("whatsmeow.tenant.errors", "{error}", "Errors per tenant: connect failures, fatal errors, handler failures.");
        Reconnects = _meter.CreateCounter<long>("whatsmeow.tenant.reconnects", "{reconnect}", "Reconnections after a lost connection, per tenant.");
        HandlerDuration = _meter.CreateHistogram<double>(
            "whatsmeow.handler.duration",
            "s",
            "Time the handlers took per event: the mean over each run of events a tenant's queue handled back to back (at most 64; one event when none were waiting).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5] });
        EventsDropped = _meter.CreateCounter<long>("whatsmeow.events.dropped", "{event}", "Events dropped by an explicitly chosen lossy queue policy.");
    }

    /// <summary>The meter.</summary>
    public Meter Meter => _meter;

    internal Counter<long> Messages { get; }

    internal Counter<long> Errors { get; }

    internal Counter<long> Reconnects { get; }

    internal Histogram<double> HandlerDuration { get; }

    internal Counter<long> EventsDropped { get; }

    /// <summary>Events in the tenants' queues, summed over tenants: +1 per write, −n per run the readers handled.</summary>
    internal StripedCounter QueuedEvents { get; } = new();

    /// <summary>The <c>direction</c> tag of inbound messages.</summary>
    internal static KeyValuePair<string, object?> InboundTag { get; } = new("direction", "in");

    /// <summary>Registers the observable gauges that read the coordinator's and the store's figures at collection time.</summary>
    internal void RegisterObservers(Func<TenantCounts> counts, Func<Storage.StorePoolStatistics?> pool)
    {
        _meter.CreateObservableGauge("whatsmeow.tenants.total", () => (long)counts().Total, "{tenant}", "Tenants managed by this host (every state but stopped).");
        _meter.CreateObservableGauge("whatsmeow.tenants.connected", () => (long)counts().Connected, "{tenant}", "Tenants connected.");
        _meter.CreateObservableGauge("whatsmeow.tenants.disconnected", () => (long)counts().Disconnected, "{tenant}", "Tenants disconnected and reconnecting.");
        _meter.CreateObservableGauge("whatsmeow.tenants.starting", () => (long)counts().Starting, "{tenant}", "Tenants starting.");
        _meter.CreateObservableGauge("whatsmeow.tenants.error", () => (long)counts().Error, "{tenant}", "Tenants stopped by a fatal error.");
        // O(1) in the number of tenants (a striped sum the queues keep); clamped, since a reader may count a read before its writer
        // counted the write.
        _meter.CreateObservableGauge("whatsmeow.queue.depth", () => Math.Max(0, QueuedEvents.Sum()), "{event}", "Events waiting in the tenants' queues, summed over tenants.");
        _meter.CreateObservableGauge("whatsmeow.db.pool.connections", () => ObservePool(pool()), "{connection}", "Database pool connections by state (acquired, idle, max).");
    }

    private static IEnumerable<Measurement<long>> ObservePool(Storage.StorePoolStatistics? stats)
    {
        if (stats is not { } s)
        {
            return [];
        }

        return
        [
            new Measurement<long>(s.Acquired, new KeyValuePair<string, object?>("state", "acquired")),
            new Measurement<long>(s.Idle, new KeyValuePair<string, object?>("state", "idle")),
            new Measurement<long>(s.Max, new KeyValuePair<string, object?>("state", "max")),
        ];
    }

    /// <summary>
    /// Seeds the per-tenant counters of a started tenant at 0 (<c>whatsmeow_tenant_messages_total</c> for both directions and
    /// <c>whatsmeow_tenant_errors_total</c> for every kind), so its series exist before any traffic, as Prometheus practice wants for
    /// known series. Only for tenants with their own label (within <c>MaxTenantMetricLabels</c>): the <c>_other</c> series appear with
    /// the first event of such a tenant. Adding 0 changes no total.
    /// </summary>
    internal void SeedTenant(KeyValuePair<string, object?> tenantTag)
    {
        if (ReferenceEquals(tenantTag.Value, OtherTenantsLabel) || OtherTenantsLabel.Equals(tenantTag.Value))
        {
            return;
        }

        foreach (var direction in SeededDirections)
        {
            Messages.Add(0, tenantTag, direction);
        }

        foreach (var kind in SeededErrorKinds)
        {
            Errors.Add(0, tenantTag, kind);
        }
    }

    private static readonly KeyValuePair<string, object?>[] SeededDirections =
        [new("direction", "in"), new("direction", "out")];

    private static readonly KeyValuePair<string, object?>[] SeededErrorKinds =
        [new("kind", "connect"), new("kind", "fatal"), new("kind", "handler"), new("kind", "send")];

    /// <summary>
    /// The <c>business_id</c> tag of a tenant: its id for the first <c>MaxTenantMetricLabels</c> tenants seen, then <c>_other</c>.
    /// Computed once per tenant, so recording allocates nothing.
    /// </summary>
    internal KeyValuePair<string, object?> GetTenantTag(TenantId tenant)
    {
        if (_labels.TryGetValue(tenant, out var tag))
        {
            return tag;
        }

        // First use of a tenant (rare): under a lock, so that two threads seeing the same new tenant take one label between them,
        // not two (which would hand later tenants "_other" below the limit, or give one tenant two labels).
        lock (_labelGate)
        {
            if (_labels.TryGetValue(tenant, out tag))
            {
                return tag;
            }

            if (_labelCount < _maxLabels)
            {
                _labelCount++;
                tag = new KeyValuePair<string, object?>("business_id", tenant.Value);
                _labels[tenant] = tag;
                return tag;
            }
        }

        return new KeyValuePair<string, object?>("business_id", OtherTenantsLabel);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}

/// <summary>How many tenants are in each state on this host.</summary>
/// <param name="Starting">Tenants starting.</param>
/// <param name="Connected">Tenants connected.</param>
/// <param name="Disconnected">Tenants disconnected and reconnecting.</param>
/// <param name="Error">Tenants stopped by a fatal error.</param>
public readonly record struct TenantCounts(int Starting, int Connected, int Disconnected, int Error)
{
    /// <summary>Tenants managed: every state but stopped.</summary>
    public int Total => Starting + Connected + Disconnected + Error;
}
