using System.Diagnostics.Metrics;
using MultiTenant.Diagnostics;

namespace MultiTenant.CloudApi.Diagnostics;

/// <summary>
/// The Cloud API instruments. They live on the library's own meter (<see cref="TenantMetrics.MeterName"/>, <c>MultiTenant</c>, the
/// same <see cref="Meter"/> instance through <see cref="IMeterFactory"/>), so whatever exports the tenant metrics exports these too.
/// </summary>
/// <remarks>
/// Prometheus names: <c>whatsmeow_cloudapi_webhook_requests_total{result}</c> (accepted, unauthorized, too_large, bad_request,
/// retry), <c>whatsmeow_cloudapi_webhook_unknown_numbers_total</c> (changes for a number no tenant holds, kept as unrouted),
/// <c>whatsmeow_cloudapi_graph_errors_total{operation,code}</c>. What happens to each message and status is counted by the inbox:
/// <c>whatsmeow_inbox_items_total{result}</c> (added, duplicate, unrouted, refused) and <c>whatsmeow_inbox_deliveries_total{result}</c>.
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
        UnknownNumbers = _meter.CreateCounter<long>("whatsmeow.cloudapi.webhook.unknown_numbers", "{change}", "Webhook changes for a phone number id that no tenant holds (their items are kept as unrouted).");
        GraphErrors = _meter.CreateCounter<long>("whatsmeow.cloudapi.graph.errors", "{error}", "Failed Graph API calls, by operation and Graph error code.");
    }

    public Counter<long> WebhookRequests { get; }

    public Counter<long> UnknownNumbers { get; }

    public Counter<long> GraphErrors { get; }

    public void WebhookRequest(string result) => WebhookRequests.Add(1, new KeyValuePair<string, object?>("result", result));

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
