using System.Diagnostics.Metrics;
using MultiTenant.Diagnostics;

namespace MultiTenant.Webhooks;

/// <summary>
/// The outbound webhooks' instruments, on the <see cref="TenantMetrics.MeterName"/> meter: <c>whatsmeow.webhook.attempts</c> (delivery
/// attempts, by <c>result</c>: <c>delivered</c>, <c>failed</c>, <c>dead_letter</c>, <c>refused</c> for a target refused as a request
/// forgery), <c>whatsmeow.webhook.events</c> (events queued in the outbox), <c>whatsmeow.webhook.lag</c> (seconds from an event's
/// queueing to its delivery) and <c>whatsmeow.webhook.retries</c> (dead letters made pending again through the API). No per-tenant
/// labels.
/// </summary>
public sealed class WebhookMetrics : IDisposable
{
    /// <summary>The <c>result</c> of an attempt the receiver accepted (2xx).</summary>
    public const string Delivered = "delivered";

    /// <summary>The <c>result</c> of a failed attempt that is retried.</summary>
    public const string Failed = "failed";

    /// <summary>The <c>result</c> of an attempt after which the event became a dead letter.</summary>
    public const string DeadLetter = "dead_letter";

    /// <summary>The <c>result</c> of an attempt whose target was refused by <see cref="WebhookUrlPolicy"/>.</summary>
    public const string Refused = "refused";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _attempts;
    private readonly Counter<long> _queued;
    private readonly Histogram<double> _lag;
    private readonly Counter<long> _retries;

    /// <summary>Creates the instruments through <paramref name="meterFactory"/> (or on a meter of their own when it is <see langword="null"/>).</summary>
    public WebhookMetrics(IMeterFactory? meterFactory)
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

        _attempts = _meter.CreateCounter<long>("whatsmeow.webhook.attempts", "{attempt}", "Outbound webhook delivery attempts, by result (delivered, failed, dead_letter, refused).");
        _queued = _meter.CreateCounter<long>("whatsmeow.webhook.events", "{event}", "Events queued in the outbound webhook outbox.");
        _retries = _meter.CreateCounter<long>("whatsmeow.webhook.retries", "{event}", "Outbound webhook dead letters made pending again through the API.");
        _lag = _meter.CreateHistogram<double>(
            "whatsmeow.webhook.lag",
            "s",
            "Time from an event's queueing in the outbox to its delivery.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 3600, 86400] });
    }

    /// <summary>Counts one event queued.</summary>
    public void Queued() => _queued.Add(1);

    /// <summary>Counts <paramref name="count"/> dead letters made pending again.</summary>
    public void Retried(int count)
    {
        if (count > 0)
        {
            _retries.Add(count);
        }
    }

    /// <summary>Counts one attempt with <paramref name="result"/>; <paramref name="lag"/> is recorded for delivered events.</summary>
    public void Attempted(string result, TimeSpan? lag = null)
    {
        _attempts.Add(1, new KeyValuePair<string, object?>("result", result));
        if (lag is { } value)
        {
            _lag.Record(Math.Max(0, value.TotalSeconds));
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
