using MultiTenant.Events;
using MultiTenant.Webhooks;

namespace MultiTenant.AspNetCore.Webhooks;

/// <summary>
/// Writes every event the tenant's handlers see into the outbox, when the tenant has a subscription that accepts its type (one store
/// call: the check and the insert are one statement on PostgreSQL), then wakes the tenant's sender. Which tenants have a subscription
/// is remembered (<see cref="WebhookSubscriptionCache"/>), so an event of a tenant without one is neither serialised nor sent to the
/// store. Runs on the host that owns the tenant, like every handler. A store failure throws, so the event counts as not handled (an
/// inbox item is then retried); the event id makes that retry store the event once.
/// </summary>
internal sealed class WebhookEventHandler(
    ITenantWebhookOutbox outbox, WebhookSubscriptionCache subscriptions, WebhookDispatcher dispatcher, WebhookMetrics metrics) : ITenantEventHandler
{
    public async ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
    {
        if (WebhookEventJson.TypeOf(tenantEvent) is not { } type
            || !await subscriptions.MayAcceptAsync(tenant, type, cancellationToken).ConfigureAwait(false)
            || !WebhookEventJson.TryCreate(tenant, tenantEvent, out string eventId, out string eventType, out byte[] body))
        {
            return;
        }

        if (await outbox.EnqueueAsync(tenant, eventId, eventType, body, cancellationToken).ConfigureAwait(false))
        {
            metrics.Queued();
            dispatcher.Notify(tenant);
        }
    }
}
