using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.CloudApi.Diagnostics;
using MultiTenant.Diagnostics;
using MultiTenant.Inbox;

namespace MultiTenant.CloudApi.Webhooks;

/// <summary>What the webhook answers Meta.</summary>
internal enum WebhookOutcome
{
    /// <summary>200: every message and status is stored (in a tenant's inbox, or kept for a number no tenant holds yet).</summary>
    Acknowledged = 0,

    /// <summary>503: the store is unreachable, or the items for unknown numbers exceed the bound; nothing is lost, Meta retries.</summary>
    RetryLater = 1,
}

/// <summary>
/// Stores a verified webhook payload in the durable inbox: each change's <c>metadata.phone_number_id</c> → its tenant through the
/// shared <see cref="ITenantAddressIndex"/> (so any host of a fleet accepts any delivery) → one inbox item per message and per status
/// (a webhook <c>value</c> holding just that item, keyed <c>m/{wamid}</c> or <c>s/{status}/{wamid}</c>, source <c>cloudapi</c>),
/// all written in one <see cref="ITenantInbox.WriteAsync"/> call. The host that runs each tenant consumes its inbox (see
/// <see cref="TenantInboxConsumer"/>); redeliveries are absorbed by the inbox key.
/// </summary>
/// <remarks>
/// Items for a number that no tenant holds are kept as unrouted (at most <see cref="CloudApiOptions.UnroutedCapacity"/>, counted and
/// logged) and move to the tenant that claims the number by setting its credentials. What <see cref="InboundMessageParser"/> turns
/// into no event (a <c>deleted</c> status, an item without an id) is not stored.
/// </remarks>
internal sealed class WebhookProcessor(
    ITenantAddressIndex index,
    ITenantInbox inbox,
    IOptions<CloudApiOptions> options,
    CloudApiMetrics metrics,
    InboxMetrics inboxMetrics,
    TimeProvider time,
    ILogger<WebhookProcessor> logger)
{
    private const string BusinessAccountObject = "whatsapp_business_account";

    private readonly int _unroutedCapacity = options.Value.UnroutedCapacity;

    public async Task<WebhookOutcome> ProcessAsync(JsonElement payload, CancellationToken cancellationToken)
    {
        if (!Tracing.Source.HasListeners())
        {
            return await StoreAsync(payload, activity: null, cancellationToken).ConfigureAwait(false);
        }

        // The webhook receive span (TenantTracing): a child of the request's span, from the parsed payload to the committed inbox write.
        using var activity = Tracing.Source.StartActivity("webhook receive", ActivityKind.Internal);
        var outcome = await StoreAsync(payload, activity, cancellationToken).ConfigureAwait(false);
        activity?.SetTag(TenantTracing.WebhookOutcomeAttribute, outcome == WebhookOutcome.Acknowledged ? "acknowledged" : "retry_later");
        if (outcome == WebhookOutcome.RetryLater)
        {
            activity?.SetStatus(ActivityStatusCode.Error, "retry_later");
        }

        return outcome;
    }

    private async Task<WebhookOutcome> StoreAsync(JsonElement payload, Activity? activity, CancellationToken cancellationToken)
    {
        if (payload.ValueKind != JsonValueKind.Object
            || !payload.TryGetProperty("object", out var kind) || !kind.ValueEquals(BusinessAccountObject)
            || !payload.TryGetProperty("entry", out var entries) || entries.ValueKind != JsonValueKind.Array)
        {
            return WebhookOutcome.Acknowledged; // another product's webhook, or nothing in it: nothing to store
        }

        var routed = new List<InboxWrite>();
        var unrouted = new List<(TenantAddress Address, List<InboxWrite> Items)>();
        try
        {
            foreach (var entry in entries.EnumerateArray())
            {
                if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("changes", out var changes) || changes.ValueKind != JsonValueKind.Array)
                {
                    continue;
                }

                foreach (var change in changes.EnumerateArray())
                {
                    await AddChangeAsync(change, routed, unrouted, cancellationToken).ConfigureAwait(false);
                }
            }

            if (routed.Count > 0)
            {
                var written = await inbox.WriteAsync(routed, cancellationToken).ConfigureAwait(false);
                inboxMetrics.Items("added", written.Added);
                inboxMetrics.Items("duplicate", written.Duplicates);
                if (activity is not null)
                {
                    TagWritten(activity, routed, written.Added, written.Duplicates);
                }
            }

            bool full = false;
            foreach (var (address, items) in unrouted)
            {
                full |= !await KeepUnroutedAsync(address, items, cancellationToken).ConfigureAwait(false);
            }

            return full ? WebhookOutcome.RetryLater : WebhookOutcome.Acknowledged;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The index or the inbox is unreachable: nothing is acknowledged, Meta delivers again (written items absorb the retry).
            Log.WebhookStoreFailed(logger, ex.GetType().Name, ex);
            TenantTracing.RecordFailure(activity, ex);
            return WebhookOutcome.RetryLater;
        }
    }

    /// <summary>The tenants of the written items (the business id when there is one) and the inbox's counts, on the receive span.</summary>
    private static void TagWritten(Activity activity, List<InboxWrite> routed, int added, int duplicates)
    {
        var first = routed[0].Tenant;
        var others = new HashSet<TenantId>();
        foreach (var item in routed)
        {
            if (item.Tenant != first)
            {
                others.Add(item.Tenant);
            }
        }

        if (others.Count == 0)
        {
            activity.SetTag(TenantTracing.BusinessIdAttribute, first.Value);
        }

        activity.SetTag(TenantTracing.WebhookTenantsAttribute, others.Count + 1);
        activity.SetTag(TenantTracing.InboxAddedAttribute, added);
        activity.SetTag(TenantTracing.InboxDuplicatesAttribute, duplicates);
    }

    private async ValueTask AddChangeAsync(
        JsonElement change, List<InboxWrite> routed, List<(TenantAddress Address, List<InboxWrite> Items)> unrouted, CancellationToken cancellationToken)
    {
        if (change.ValueKind != JsonValueKind.Object || !change.TryGetProperty("value", out var value) || value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("metadata", out var metadata) || metadata.ValueKind != JsonValueKind.Object
            || !metadata.TryGetProperty("phone_number_id", out var number) || number.ValueKind != JsonValueKind.String
            || number.GetString() is not { Length: > 0 } phoneNumberId)
        {
            return; // account-level fields (account_update, templates, ...) carry no number: not a tenant's traffic
        }

        ReportErrors(value, phoneNumberId);
        var items = new List<InboxWrite>();
        AddItems(value, metadata, "messages", CloudApiInboxDecoder.MessageKind, phoneNumberId, items);
        AddItems(value, metadata, "statuses", CloudApiInboxDecoder.StatusKind, phoneNumberId, items);
        AddItems(value, metadata, "errors", CloudApiInboxDecoder.ErrorKind, phoneNumberId, items);
        if (items.Count == 0)
        {
            return;
        }

        TenantAddress address;
        try
        {
            address = CloudApiInboxDecoder.Address(phoneNumberId);
        }
        catch (ArgumentException)
        {
            Refused(phoneNumberId, items.Count, "the phone number id is not a valid address");
            return;
        }

        if (await index.FindAsync(address, cancellationToken).ConfigureAwait(false) is { } tenant)
        {
            foreach (var item in items)
            {
                routed.Add(item with { Tenant = tenant });
            }

            return;
        }

        metrics.UnknownNumbers.Add(1);
        unrouted.Add((address, items));
    }

    /// <summary>Keeps items of a number no tenant holds. <see langword="false"/> when the bound is reached (Meta retries later).</summary>
    private async ValueTask<bool> KeepUnroutedAsync(TenantAddress address, List<InboxWrite> items, CancellationToken cancellationToken)
    {
        if (!await inbox.WriteUnroutedAsync(address, items, _unroutedCapacity, cancellationToken).ConfigureAwait(false))
        {
            inboxMetrics.Items("refused", items.Count);
            Log.WebhookUnroutedFull(logger, address.Value, items.Count, _unroutedCapacity);
            return false;
        }

        inboxMetrics.Items("unrouted", items.Count);
        Log.WebhookUnknownNumber(logger, address.Value, items.Count);

        // A tenant may have claimed the number between the lookup and the write (its adoption then missed these): adopt them now.
        if (await index.FindAsync(address, cancellationToken).ConfigureAwait(false) is { } tenant)
        {
            await inbox.AdoptUnroutedAsync(address, tenant, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>Adds one item per element of <paramref name="property"/> that <see cref="InboundMessageParser"/> makes an event of.</summary>
    private void AddItems(JsonElement value, JsonElement metadata, string property, string kind, string phoneNumberId, List<InboxWrite> items)
    {
        if (!value.TryGetProperty(property, out var list) || list.ValueKind != JsonValueKind.Array)
        {
            return;
        }

        bool hasContacts = value.TryGetProperty("contacts", out var contacts) && contacts.ValueKind == JsonValueKind.Array;
        var now = time.GetUtcNow();
        int index = -1;
        foreach (var element in list.EnumerateArray())
        {
            index++;
            if (Key(value, element, kind, index) is not { } key)
            {
                continue;
            }

            byte[] payload = Envelope(metadata, hasContacts && kind == CloudApiInboxDecoder.MessageKind ? contacts : null, property, element);
            using (var document = JsonDocument.Parse(payload))
            {
                if (InboundMessageParser.Parse(document.RootElement, now).Count != 1)
                {
                    continue; // not an event (a "deleted" status, ...): nothing to deliver
                }
            }

            if (key.Length > InboxNames.MaxKeyLength || payload.Length > InboxWrite.MaxPayloadBytes || !IsValidKey(key))
            {
                Refused(phoneNumberId, 1, "an item's id or size is outside the inbox's limits");
                continue;
            }

            // The tenant is set once the number is resolved (unrouted items carry none).
            items.Add(new InboxWrite(default, key, CloudApiInboxDecoder.SourceName, kind, payload));
        }
    }

    /// <summary>
    /// The inbox key of a message (<c>m/{id}</c>) or status (<c>s/{status}/{id}</c>), or <see langword="null"/> without an id. A
    /// value-level error has no id: its key is <c>e/{SHA-256 of the whole value}/{index}</c>, the same for Meta's redeliveries of the
    /// delivery (so they are absorbed) and different for another delivery.
    /// </summary>
    private static string? Key(JsonElement value, JsonElement element, string kind, int index)
    {
        if (kind == CloudApiInboxDecoder.ErrorKind)
        {
            byte[] hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(value.GetRawText()));
            return "e/" + Convert.ToHexStringLower(hash) + "/" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty("id", out var idElement)
            || idElement.ValueKind != JsonValueKind.String || idElement.GetString() is not { Length: > 0 } id)
        {
            return null;
        }

        if (kind == CloudApiInboxDecoder.MessageKind)
        {
            return "m/" + id;
        }

        return element.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.String && status.GetString() is { Length: > 0 } name
            ? "s/" + name + "/" + id
            : null;
    }

    private static bool IsValidKey(string key)
    {
        try
        {
            InboxNames.ThrowIfInvalidKey(key, nameof(key));
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>A webhook <c>value</c> with only <paramref name="element"/> in <paramref name="property"/>: Meta's own JSON, unchanged.</summary>
    private static byte[] Envelope(JsonElement metadata, JsonElement? contacts, string property, JsonElement element)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WritePropertyName("metadata");
            metadata.WriteTo(writer);
            if (contacts is { } list)
            {
                writer.WritePropertyName("contacts");
                list.WriteTo(writer);
            }

            writer.WriteStartArray(property);
            element.WriteTo(writer);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private void Refused(string phoneNumberId, int count, string reason)
    {
        inboxMetrics.Items("refused", count);
        Log.WebhookItemsRefused(logger, phoneNumberId, count, reason);
    }

    private void ReportErrors(JsonElement value, string phoneNumberId)
    {
        if (!value.TryGetProperty("errors", out var errors) || errors.ValueKind != JsonValueKind.Array)
        {
            return;
        }

        foreach (var error in errors.EnumerateArray())
        {
            if (error.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            int code = error.TryGetProperty("code", out var c) && c.TryGetInt32(out int n) ? n : 0;
            string title = (error.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null)
                ?? (error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null)
                ?? "no title";
            Log.WebhookErrorReported(logger, phoneNumberId, code, title);
        }
    }
}
