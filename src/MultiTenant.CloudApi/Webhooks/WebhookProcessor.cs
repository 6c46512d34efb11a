using System.Globalization;
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
/// its event channel, as <see cref="CloudApiMessageEvent"/> and <see cref="CloudApiReceiptEvent"/>, in payload order per tenant,
/// de-duplicated by message id.
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
                var value = change?.Value;
                if (value?.Metadata?.PhoneNumberId is not { Length: > 0 } phoneNumberId)
                {
                    continue; // account-level fields (account_update, templates, ...) carry no number: not a tenant's traffic
                }

                ReportErrors(value, phoneNumberId);
                int messages = value.Messages?.Count ?? 0;
                int statuses = value.Statuses?.Count ?? 0;
                if (messages + statuses == 0)
                {
                    continue;
                }

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
                AddEvents(GetBatch(batches, client), value, phoneNumberId);
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

    private void ReportErrors(WebhookValue value, string phoneNumberId)
    {
        if (value.Errors is null)
        {
            return;
        }

        foreach (var error in value.Errors)
        {
            Log.WebhookErrorReported(_logger, phoneNumberId, error?.Code ?? 0, error?.Title ?? error?.Message ?? "no title");
        }
    }

    private void AddEvents(TenantBatch batch, WebhookValue value, string phoneNumberId)
    {
        if (value.Messages is not null)
        {
            foreach (var message in value.Messages)
            {
                if (message?.Id is not { Length: > 0 } id)
                {
                    continue;
                }

                var from = message.From ?? string.Empty;
                batch.Add(WebhookDeduplicator.MessageKey(id), new CloudApiMessageEvent
                {
                    MessageId = id,
                    From = from,
                    Type = message.Type ?? "unknown",
                    Text = message.Text?.Body,
                    Timestamp = ParseTimestamp(message.Timestamp),
                    PhoneNumberId = phoneNumberId,
                    ContactName = FindContactName(value.Contacts, from),
                });
            }
        }

        if (value.Statuses is not null)
        {
            foreach (var status in value.Statuses)
            {
                if (status?.Id is not { Length: > 0 } id || ParseStatus(status.Status) is not { } receipt)
                {
                    continue; // statuses outside sent/delivered/read/failed (for example "deleted") are not receipts
                }

                var error = status.Errors is [{ } first, ..] ? first : null;
                batch.Add(WebhookDeduplicator.StatusKey(id, status.Status!), new CloudApiReceiptEvent
                {
                    MessageId = id,
                    Recipient = status.RecipientId ?? string.Empty,
                    Status = receipt,
                    Timestamp = ParseTimestamp(status.Timestamp),
                    PhoneNumberId = phoneNumberId,
                    ErrorCode = error?.Code,
                    Error = error is null ? null : DescribeError(error),
                });
            }
        }
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

    private DateTimeOffset ParseTimestamp(string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds) && seconds is > 0 and < 253402300800
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : _time.GetUtcNow();

    private static ReceiptStatus? ParseStatus(string? status) => status switch
    {
        "sent" => ReceiptStatus.Sent,
        "delivered" => ReceiptStatus.Delivered,
        "read" => ReceiptStatus.Read,
        "failed" => ReceiptStatus.Failed,
        _ => null,
    };

    private static string? FindContactName(List<WebhookContact>? contacts, string from)
    {
        if (contacts is null)
        {
            return null;
        }

        foreach (var contact in contacts)
        {
            if (contact is not null && string.Equals(contact.WaId, from, StringComparison.Ordinal))
            {
                return contact.Profile?.Name;
            }
        }

        return contacts is [{ Profile.Name: { } name }] ? name : null;
    }

    private static string DescribeError(WebhookError error)
    {
        string code = error.Code?.ToString(CultureInfo.InvariantCulture) ?? "?";
        string title = error.Title ?? error.Message ?? "error";
        return error.ErrorData?.Details is { Length: > 0 } details && !string.Equals(details, title, StringComparison.Ordinal)
            ? $"{code}: {title} ({details})"
            : $"{code}: {title}";
    }

    private sealed class TenantBatch(CloudApiClient client)
    {
        public CloudApiClient Client { get; } = client;

        public List<string> Keys { get; } = [];

        public List<TenantEvent> Events { get; } = [];

        public void Add(string key, TenantEvent tenantEvent)
        {
            Keys.Add(key);
            Events.Add(tenantEvent);
        }
    }
}
