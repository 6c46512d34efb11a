using System.Diagnostics.Metrics;
using MultiTenant.Diagnostics;

namespace MultiTenant.Inbox;

/// <summary>
/// The inbox's instruments, on the <see cref="TenantMetrics.MeterName"/> meter: <c>whatsmeow.inbox.items</c> (items offered to the
/// inbox, by <c>result</c>: <c>added</c>, <c>duplicate</c>, <c>unrouted</c>, <c>refused</c>), <c>whatsmeow.inbox.deliveries</c>
/// (delivery attempts, by <c>result</c>: <c>done</c>, <c>failed</c>, <c>dead_letter</c>), <c>whatsmeow.inbox.retries</c> (dead letters
/// retried through the API) and <c>whatsmeow.inbox.lag</c> (seconds from receipt to done). No per-tenant labels.
/// </summary>
public sealed class InboxMetrics : IDisposable
{
    /// <summary>The <c>result</c> of an item handled by every handler.</summary>
    public const string Done = "done";

    /// <summary>The <c>result</c> of a failed attempt that is retried.</summary>
    public const string Failed = "failed";

    /// <summary>The <c>result</c> of an item that became a dead letter.</summary>
    public const string DeadLetter = "dead_letter";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _items;
    private readonly Counter<long> _deliveries;
    private readonly Counter<long> _retries;
    private readonly Histogram<double> _lag;

    /// <summary>Creates the instruments through <paramref name="meterFactory"/> (or on a meter of their own when it is <see langword="null"/>).</summary>
    public InboxMetrics(IMeterFactory? meterFactory)
    {
        if (meterFactory is null)
        {
            _meter = new Meter(TenantMetrics.MeterName);
            _ownsMeter = true;
        }
        else
        {
            _meter = meterFactory.Create(new MeterOptions(TenantMetrics.MeterName));
        }

        _items = _meter.CreateCounter<long>("whatsmeow.inbox.items", "{item}", "Items offered to the inbox, by result (added, duplicate, unrouted, refused).");
        _deliveries = _meter.CreateCounter<long>("whatsmeow.inbox.deliveries", "{attempt}", "Inbox delivery attempts, by result (done, failed, dead_letter).");
        _retries = _meter.CreateCounter<long>("whatsmeow.inbox.retries", "{item}", "Dead letters made pending again through the API.");
        _lag = _meter.CreateHistogram<double>(
            "whatsmeow.inbox.lag",
            "s",
            "Time from an item's receipt to its handling.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 3600] });
    }

    /// <summary>Counts <paramref name="count"/> items offered to the inbox with <paramref name="result"/> (<c>added</c>, <c>duplicate</c>, <c>unrouted</c>, <c>refused</c>).</summary>
    public void Items(string result, int count)
    {
        if (count > 0)
        {
            _items.Add(count, new KeyValuePair<string, object?>("result", result));
        }
    }

    /// <summary>Counts one delivery attempt with <paramref name="result"/>; <paramref name="lag"/> is recorded for handled items.</summary>
    public void Delivered(string result, TimeSpan? lag = null)
    {
        _deliveries.Add(1, new KeyValuePair<string, object?>("result", result));
        if (lag is { } value)
        {
            _lag.Record(Math.Max(0, value.TotalSeconds));
        }
    }

    /// <summary>Counts dead letters retried through the API.</summary>
    public void Retried(int count)
    {
        if (count > 0)
        {
            _retries.Add(count);
        }
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
