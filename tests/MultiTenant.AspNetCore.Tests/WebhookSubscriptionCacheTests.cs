using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.Events;
using MultiTenant.Webhooks;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>
/// The outbound webhooks' subscription cache, counted: a tenant without a subscription costs no outbox call per event (one read of
/// the subscription store, then nothing), and a PUT or DELETE is seen by the tenant's next event.
/// </summary>
public sealed class WebhookSubscriptionCacheTests
{
    private const int Events = 1000;

    [Fact]
    public async Task A_tenant_without_a_subscription_makes_no_outbox_call_per_event_and_a_put_or_delete_is_seen_by_the_next_event()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var app = await TestApp.StartAsync(b =>
        {
            b.Services.Configure<WebhookDeliveryOptions>(o => o.AllowPrivateTargets = true);
            b.Services.AddSingleton(static sp => new CountingWebhookStore(sp.GetRequiredService<InMemoryTenantWebhookStore>()));
            b.Services.AddSingleton<ITenantWebhookSubscriptionStore>(static sp => sp.GetRequiredService<CountingWebhookStore>());
            b.Services.AddSingleton<ITenantWebhookOutbox>(static sp => sp.GetRequiredService<CountingWebhookStore>());
        });
        var counts = app.App.Services.GetRequiredService<CountingWebhookStore>();
        await app.StartConnectedAsync("t1");
        var events = app.Clients.Client("t1").Context.Events;
        int enqueuesAtStart = counts.Enqueues; // the connected event, before any measurement
        int readsAtStart = counts.Reads;

        for (int i = 0; i < Events; i++)
        {
            await events.DeliverAsync(Message(app, "before", i));
        }

        Assert.Equal(0, counts.Enqueues - enqueuesAtStart);
        Assert.True(counts.Reads - readsAtStart <= 1, $"{counts.Reads - readsAtStart} subscription reads for {Events} events");

        // A PUT (on this host: the embedded store announces it at once) is seen by the very next event.
        using (var put = await app.Http.PutAsync("/api/tenants/t1/webhooks", TestApp.Body($$"""{"url":"{{receiver.Url}}","event_types":["message"]}""")))
        {
            await Responses.AssertJsonAsync(put, 201);
        }

        await events.DeliverAsync(Message(app, "after", 0));
        await receiver.WaitUntilAsync(() => receiver.Requests.Any(r => r.EventId == "message:after0"));
        int enqueuesWithSubscription = counts.Enqueues;

        // A receipt is not a type the subscription accepts: no outbox call either.
        await events.DeliverAsync(new ReceiptEvent { MessageId = "out1", Recipient = "15550001111", Status = ReceiptStatus.Read, Timestamp = app.Time.GetUtcNow() });
        Assert.Equal(enqueuesWithSubscription, counts.Enqueues);

        using (var deleted = await app.Http.DeleteAsync("/api/tenants/t1/webhooks"))
        {
            Assert.Equal(System.Net.HttpStatusCode.NoContent, deleted.StatusCode);
        }

        for (int i = 1; i <= 10; i++)
        {
            await events.DeliverAsync(Message(app, "after", i));
        }

        Assert.Equal(enqueuesWithSubscription, counts.Enqueues);
        Assert.Equal(["message:after0"], receiver.Requests.Select(r => r.EventId));
    }

    [Fact]
    public async Task With_a_cache_duration_of_zero_every_event_asks_the_outbox()
    {
        await using var app = await TestApp.StartAsync(b =>
        {
            b.Services.Configure<WebhookDeliveryOptions>(o => o.SubscriptionCacheDuration = TimeSpan.Zero);
            b.Services.AddSingleton(static sp => new CountingWebhookStore(sp.GetRequiredService<InMemoryTenantWebhookStore>()));
            b.Services.AddSingleton<ITenantWebhookSubscriptionStore>(static sp => sp.GetRequiredService<CountingWebhookStore>());
            b.Services.AddSingleton<ITenantWebhookOutbox>(static sp => sp.GetRequiredService<CountingWebhookStore>());
        });
        var counts = app.App.Services.GetRequiredService<CountingWebhookStore>();
        await app.StartConnectedAsync("t1");
        var events = app.Clients.Client("t1").Context.Events;

        // Handled in order: once this one is, so is the tenant's connected event (which asks the outbox too), so it is not counted below.
        await events.DeliverAsync(Message(app, "warm-up", 0));
        int before = counts.Enqueues;
        for (int i = 0; i < 10; i++)
        {
            await events.DeliverAsync(Message(app, "m", i));
        }

        Assert.Equal(10, counts.Enqueues - before);
    }

    private static MessageEvent Message(TestApp app, string prefix, int i) =>
        new() { MessageId = prefix + i, From = "15551234567", Text = "hi", Timestamp = app.Time.GetUtcNow() };

    /// <summary>The embedded store, counting subscription reads and outbox enqueues (everything else passes through).</summary>
    private sealed class CountingWebhookStore(InMemoryTenantWebhookStore inner) : ITenantWebhookSubscriptionStore, ITenantWebhookOutbox
    {
        private int _reads;
        private int _enqueues;

        public int Reads => Volatile.Read(ref _reads);

        public int Enqueues => Volatile.Read(ref _enqueues);

        public ValueTask<WebhookSubscription?> GetAsync(TenantId tenant, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _reads);
            return inner.GetAsync(tenant, cancellationToken);
        }

        public ValueTask<bool> EnqueueAsync(TenantId tenant, string eventId, string eventType, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _enqueues);
            return inner.EnqueueAsync(tenant, eventId, eventType, body, cancellationToken);
        }

        public ValueTask<WebhookSubscription> PutAsync(TenantId tenant, Uri url, IReadOnlyList<string> eventTypes, ReadOnlyMemory<byte> protectedSecret, CancellationToken cancellationToken = default) =>
            inner.PutAsync(tenant, url, eventTypes, protectedSecret, cancellationToken);

        public ValueTask<bool> DeleteAsync(TenantId tenant, CancellationToken cancellationToken = default) => inner.DeleteAsync(tenant, cancellationToken);

        public ValueTask<WebhookOutboxItem?> ClaimAsync(TenantId tenant, Guid sender, TimeSpan lease, CancellationToken cancellationToken = default) =>
            inner.ClaimAsync(tenant, sender, lease, cancellationToken);

        public ValueTask<bool> CompleteAsync(TenantId tenant, long itemId, Guid sender, CancellationToken cancellationToken = default) =>
            inner.CompleteAsync(tenant, itemId, sender, cancellationToken);

        public ValueTask<bool> FailAsync(TenantId tenant, long itemId, Guid sender, string error, DateTimeOffset? retryAt, CancellationToken cancellationToken = default) =>
            inner.FailAsync(tenant, itemId, sender, error, retryAt, cancellationToken);

        public ValueTask<DateTimeOffset?> GetNextAttemptAsync(TenantId tenant, CancellationToken cancellationToken = default) =>
            inner.GetNextAttemptAsync(tenant, cancellationToken);

        public ValueTask<IReadOnlyList<TenantId>> ListDueTenantsAsync(int maxTenants, CancellationToken cancellationToken = default) =>
            inner.ListDueTenantsAsync(maxTenants, cancellationToken);

        public ValueTask<IReadOnlyList<WebhookOutboxItem>> ListDeadAsync(TenantId tenant, long afterId, int limit, CancellationToken cancellationToken = default) =>
            inner.ListDeadAsync(tenant, afterId, limit, cancellationToken);

        public ValueTask<bool> RetryDeadAsync(TenantId tenant, long itemId, CancellationToken cancellationToken = default) =>
            inner.RetryDeadAsync(tenant, itemId, cancellationToken);

        public ValueTask<int> RetryAllDeadAsync(TenantId tenant, CancellationToken cancellationToken = default) => inner.RetryAllDeadAsync(tenant, cancellationToken);

        public ValueTask<WebhookOutboxCounts> CountAsync(TenantId tenant, CancellationToken cancellationToken = default) => inner.CountAsync(tenant, cancellationToken);

        public ValueTask<int> PurgeAsync(DateTimeOffset completedBefore, CancellationToken cancellationToken = default) => inner.PurgeAsync(completedBefore, cancellationToken);
    }
}
