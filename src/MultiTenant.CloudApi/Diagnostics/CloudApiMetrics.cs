using System.Diagnostics.Metrics;
using MultiTenant.Diagnostics;

namespace MultiTenant.CloudApi.Diagnostics;

/// <summary>
/// The Cloud API instruments. They live on the library's own meter (<see cref="TenantMetrics.MeterName"/>, <c>MultiTenant</c>, the
/// same <see cref="Meter"/> instance through <see cref="IMeterFactory"/>), so whatever exports the tenant metrics exports these too.
/// </summary>
/// <remarks>
/// Prometheus names: <c>whatsmeow_cloudapi_webhook_requests_total{result}</c> (accepted, unauthorized, too_large, bad_request,
/// retry), <c>whatsmeow_cloudapi_webhook_events_total{kind,outcome}</c> (message|status × routed|duplicate|dropped),
/// <c>whatsmeow_cloudapi_webhook_unknown_numbers_total</c>, <c>whatsmeow_cloudapi_graph_errors_total{operation,code}</c>.
/// </remarks>
internal sealed class CloudApiMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;

    public CloudApiMetrics(IMeterFactory? meterFactory)
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

        WebhookRequests = _meter.CreateCounter<long>("whatsmeow.cloudapi.webhook.requests", "{request}", "Webhook deliveries received, by result.");
        WebhookEvents = _meter.CreateCounter<long>("whatsmeow.cloudapi.webhook.events", "{event}", "Messages and status updates in webhook deliveries, by outcome.");
        UnknownNumbers = _meter.CreateCounter<long>("whatsmeow.cloudapi.webhook.unknown_numbers", "{change}", "Webhook changes for a phone number id that belongs to no tenant known to this host.");
        GraphErrors = _meter.CreateCounter<long>("whatsmeow.cloudapi.graph.errors", "{error}", "Failed Graph API calls, by operation and Graph error code.");
    }

    public Counter<long> WebhookRequests { get; }

    public Counter<long> WebhookEvents { get; }

    public Counter<long> UnknownNumbers { get; }

    public Counter<long> GraphErrors { get; }

    public void WebhookRequest(string result) => WebhookRequests.Add(1, new KeyValuePair<string, object?>("result", result));

    public void Events(string kind, string outcome, int count)
    {
        if (count > 0)
        {
            WebhookEvents.Add(count, new KeyValuePair<string, object?>("kind", kind), new KeyValuePair<string, object?>("outcome", outcome));
        }
    }

    public void GraphError(string operation, string code) =>
        GraphErrors.Add(1, new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("code", code));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
