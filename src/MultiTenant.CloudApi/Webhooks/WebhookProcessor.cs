using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.CloudApi.Client;
using MultiTenant.CloudApi.Diagnostics;
using MultiTenant.CloudApi.Routing;
using MultiTenant.Events;

namespace MultiTenant.CloudApi.Webhooks;

/// <summary>What the webhook answers Meta.</summary>
internal enum WebhookOutcome
{
    /// <summary>200: everything routable was handled (or was a duplicate, or was for an unknown number).</summary>
    Acknowledged = 0,

    /// <summary>503: part of the delivery could not be handled now (tenant not running here, handlers too slow); Meta retries.</summary>
    RetryLater = 1,
}

/// <summary>
/// Routes a verified webhook payload: each change's <c>metadata.phone_number_id</c> → the owning tenant → its running client →
/// its event channel, as the typed events <see cref="InboundMessageParser"/> makes (messages of every kind, receipts, errors), in
/// payload order per tenant, de-duplicated by message id.
/// </summary>
/// <remarks>
/// A delivery is acknowledged once every handler has returned for its events (SPEC §5: acknowledge only what was delivered), which
/// is fast when handlers are; if they take longer than <see cref="CloudApiOptions.WebhookHandlingTimeout"/> the answer is 503, the
/// events are still handled and recorded, and Meta's retry is dropped as a duplicate. Tenants are handled in parallel.
/// </remarks>
internal sealed class WebhookProcessor
{
    private const string BusinessAccountObject = "whatsapp_business_account";

    private readonly CloudApiTenantDirectory _directory;
    private readonly CloudApiOptions _options;
    private readonly CloudApiMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public WebhookProcessor(
        CloudApiTenantDirectory directory,
        IOptions<CloudApiOptions> options,
        CloudApiMetrics metrics,
        TimeProvider time,
        ILogger<WebhookProcessor> logger)
    {
        _directory = directory;
        _options = options.Value;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    public async Task<WebhookOutcome> ProcessAsync(WebhookPayload payload)
    {
        if (!string.Equals(payload.Object, BusinessAccountObject, StringComparison.Ordinal) || payload.Entry is null)
        {
            return WebhookOutcome.Acknowledged; // another product's webhook, or nothing in it: nothing to route
        }

        bool retry = false;
        List<TenantBatch>? batches = null;
        foreach (var entry in payload.Entry)
        {
            if (entry?.Changes is null)
            {
                continue;
            }

            foreach (var change in entry.Changes)
            {
                if (change is null)
                {
                    continue;
                }

                // One entry point for every kind (InboundMessageParser), shared with the durable inbox's decoder.
                var events = InboundMessageParser.Parse(change.Value, _time.GetUtcNow());
                if (events.Count == 0)
                {
                    continue; // account-level fields (account_update, templates, ...) carry no number: not a tenant's traffic
                }

                string phoneNumberId = ReportErrors(events, out int messages, out int statuses);

                if (!_directory.TryGetOwner(phoneNumberId, out var tenant))
                {
                    _metrics.UnknownNumbers.Add(1);
                    CountDropped(messages, statuses);
                    Log.WebhookUnknownNumber(_logger, phoneNumberId, messages + statuses);
                    continue;
                }

                var client = _directory.FindClient(tenant);
                if (client is null)
                {
                    retry |= OnTenantNotRunning(tenant, messages, statuses);
                    continue;
                }

                batches ??= [];
                GetBatch(batches, client).AddRange(events);
            }
        }

        if (batches is null)
        {
            return retry ? WebhookOutcome.RetryLater : WebhookOutcome.Acknowledged;
        }

        var deliveries = new Task<bool>[batches.Count];
        for (int i = 0; i < batches.Count; i++)
        {
            deliveries[i] = DeliverAsync(batches[i]);
        }

        try
        {
            var delivered = await Task.WhenAll(deliveries).WaitAsync(_options.WebhookHandlingTimeout, _time).ConfigureAwait(false);
            foreach (bool ok in delivered)
            {
                if (!ok)
                {
                    retry = true;
                }
            }
        }
        catch (TimeoutException)
        {
            // The deliveries go on in the background and record their ids when handled; Meta's retry then counts as a duplicate.
            Log.WebhookHandlingTimedOut(_logger, _options.WebhookHandlingTimeout);
            retry = true;
        }

        return retry ? WebhookOutcome.RetryLater : WebhookOutcome.Acknowledged;
    }

    /// <summary>Returns whether the delivery must be retried.</summary>
    private bool OnTenantNotRunning(TenantId tenant, int messages, int statuses)
    {
        if (_options.StoppedTenantDelivery == StoppedTenantDelivery.Drop)
        {
            CountDropped(messages, statuses);
            Log.WebhookTenantNotRunning(_logger, tenant.Value, messages + statuses, "dropped");
            return false;
        }

        Log.WebhookTenantNotRunning(_logger, tenant.Value, messages + statuses, "left for Meta to retry");
        return true;
    }

    private void CountDropped(int messages, int statuses)
    {
        _metrics.Events("message", "dropped", messages);
        _metrics.Events("status", "dropped", statuses);
    }

    /// <summary>Logs the change's errors, counts its messages and statuses, and returns its business phone number id.</summary>
    private string ReportErrors(List<TenantEvent> events, out int messages, out int statuses)
    {
        messages = statuses = 0;
        string phoneNumberId = string.Empty;
        foreach (var tenantEvent in events)
        {
            switch (tenantEvent)
            {
                case CloudApiMessageEvent message:
                    messages++;
                    phoneNumberId = message.PhoneNumberId;
                    break;
                case CloudApiReceiptEvent receipt:
                    statuses++;
                    phoneNumberId = receipt.PhoneNumberId;
                    break;
                case CloudApiWebhookErrorEvent error:
                    phoneNumberId = error.PhoneNumberId;
                    Log.WebhookErrorReported(_logger, error.PhoneNumberId, error.Code ?? 0, error.Error);
                    break;
            }
        }

        return phoneNumberId;
    }

    private async Task<bool> DeliverAsync(TenantBatch batch)
    {
        var client = batch.Client;
        var dedup = client.Deduplicator;
        var fresh = new List<int>(batch.Keys.Count);
        int duplicateMessages = 0, duplicateStatuses = 0;
        for (int i = 0; i < batch.Keys.Count; i++)
        {
            string key = batch.Keys[i];
            bool duplicate = !dedup.TryClaim(key);
            if (!duplicate)
            {
                try
                {
                    duplicate = await dedup.IsRecordedAsync(key, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    // Prefer a possible duplicate over a lost message.
                    Log.DeduplicationStoreFailed(_logger, client.Tenant.Value, "read", ex);
                }
            }

            if (duplicate)
            {
                if (batch.Events[i] is MessageEvent)
                {
                    duplicateMessages++;
                }
                else
                {
                    duplicateStatuses++;
                }
            }
            else
            {
                fresh.Add(i);
            }
        }

        _metrics.Events("message", "duplicate", duplicateMessages);
        _metrics.Events("status", "duplicate", duplicateStatuses);
        if (fresh.Count == 0)
        {
            return true;
        }

        // Queued in payload order; the tenant's single reader handles them in that order, so once the last one is delivered every
        // one before it was handled too. No cancellation: a stopping tenant drains its queue, or refuses the write (channel closed).
        var events = client.Events;
        try
        {
            for (int j = 0; j < fresh.Count - 1; j++)
            {
                await events.WriteAsync(batch.Events[fresh[j]], CancellationToken.None).ConfigureAwait(false);
            }

            await events.DeliverAsync(batch.Events[fresh[^1]], CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException)
        {
            // The tenant stopped meanwhile (or a lossy queue policy dropped the event): let Meta deliver again.
            foreach (int i in fresh)
            {
                dedup.Release(batch.Keys[i]);
            }

            int pending = CountMessages(batch, fresh);
            return !OnTenantNotRunning(client.Tenant, pending, fresh.Count - pending);
        }

        int freshMessages = CountMessages(batch, fresh);
        _metrics.Events("message", "routed", freshMessages);
        _metrics.Events("status", "routed", fresh.Count - freshMessages);

        var keys = new List<string>(fresh.Count);
        foreach (int i in fresh)
        {
            keys.Add(batch.Keys[i]);
        }

        try
        {
            await dedup.RecordAsync(keys, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Handled already; only a redelivery after a restart could now be handled twice.
            Log.DeduplicationStoreFailed(_logger, client.Tenant.Value, "record", ex);
        }

        return true;
    }

    private static TenantBatch GetBatch(List<TenantBatch> batches, CloudApiClient client)
    {
        foreach (var existing in batches)
        {
            if (ReferenceEquals(existing.Client, client))
            {
                return existing;
            }
        }

        var batch = new TenantBatch(client);
        batches.Add(batch);
        return batch;
    }

    private static int CountMessages(TenantBatch batch, List<int> indexes)
    {
        int count = 0;
        foreach (int i in indexes)
        {
            if (batch.Events[i] is MessageEvent)
            {
                count++;
            }
        }

        return count;
    }

    private sealed class TenantBatch(CloudApiClient client)
    {
        public CloudApiClient Client { get; } = client;

        public List<string> Keys { get; } = [];

        public List<TenantEvent> Events { get; } = [];

        public void AddRange(IReadOnlyList<TenantEvent> events)
        {
            foreach (var tenantEvent in events)
            {
                Keys.Add(KeyOf(tenantEvent));
                Events.Add(tenantEvent);
            }
        }

        /// <summary>The de-duplication key: the message id, the status with the message id, or (errors, which have no id) the time received.</summary>
        private static string KeyOf(TenantEvent tenantEvent) => tenantEvent switch
        {
            MessageEvent message => WebhookDeduplicator.MessageKey(message.MessageId),
            ReceiptEvent receipt => WebhookDeduplicator.StatusKey(receipt.MessageId, receipt.Status.ToString().ToLowerInvariant()),
            CloudApiWebhookErrorEvent error => WebhookDeduplicator.MessageKey("error/" + error.Code + "/" + error.Timestamp.ToUnixTimeMilliseconds()),
            _ => WebhookDeduplicator.MessageKey("event/" + tenantEvent.Timestamp.ToUnixTimeMilliseconds()),
        };
    }
}
