using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Inbox;
using static MultiTenant.CloudApi.Tests.Infrastructure.MetaPayloads;

namespace MultiTenant.CloudApi.Tests;

/// <summary>What a delivery gets when it cannot be handled at once: slow handlers, a full unrouted bound, a store that is down.</summary>
public sealed class WebhookDeliveryPolicyTests : IAsyncLifetime
{
    private const string Phone = "106540352242922";

    private FakeGraphApi _graph = null!;

    public async Task InitializeAsync() => _graph = await FakeGraphApi.StartAsync();

    public async Task DisposeAsync() => await _graph.DisposeAsync();

    [Fact]
    public async Task Delivery_is_acknowledged_once_stored_while_a_slow_handler_runs_and_a_redelivery_is_not_handled_twice()
    {
        var gate = new GatedHandler();
        await using var host = await CloudApiTestHost.StartAsync(_graph, extraHandler: gate);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, "EAAGtoken-a");
        await host.StartConnectedAsync(tenant);
        string payload = Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid.SLOW", 1739321024, "slow")]));

        using var first = await PostAsync(host, payload); // stored: 200 although the handler holds the message
        await gate.Entered.WaitAsync(TimeSpan.FromSeconds(30));
        using var whileHandling = await PostAsync(host, payload); // Meta's retry while the first attempt is still being handled
        gate.Open();
        await gate.Handled.WaitAsync(TimeSpan.FromSeconds(30));
        using var afterHandling = await PostAsync(host, payload);
        using var mark = await PostAsync(host, Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid.MARK", 1739321025, "mark")])));
        await host.Events.WaitForAsync(events => events.Any(e => e.Event is MessageEvent { Text: "mark" }));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, whileHandling.StatusCode);
        Assert.Equal(HttpStatusCode.OK, afterHandling.StatusCode);
        Assert.Equal(["slow", "mark"], host.Events.Of<MessageEvent>(tenant).Select(m => m.Text));
    }

    [Fact]
    public async Task Delivery_for_unknown_numbers_beyond_the_unrouted_bound_gets_503_and_is_counted()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph, o => o.UnroutedCapacity = 1);
        using var items = new MetricCollector<long>(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), TenantMetrics.MeterName, "whatsmeow.inbox.items");

        using var kept = await PostAsync(host, Envelope(Change("999000111222001", messages: [TextMessage("16505551234", "wamid.U1", 1739321024, "one")])));
        using var full = await PostAsync(host, Envelope(Change("999000111222002", messages: [TextMessage("16505551234", "wamid.U2", 1739321024, "two")])));

        Assert.Equal(HttpStatusCode.OK, kept.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, full.StatusCode);
        Assert.NotNull(full.Headers.RetryAfter);
        Assert.Contains(items.GetMeasurementSnapshot(), m => m.Value == 1 && Equals(m.Tags["result"], "refused"));
        Assert.Equal(1, await host.Services.GetRequiredService<ITenantInbox>().CountUnroutedAsync());
    }

    [Fact]
    public async Task Delivery_while_the_store_is_down_gets_503_with_retry_after_and_no_exception_text()
    {
        var inbox = new DownInbox();
        await using var host = await CloudApiTestHost.StartAsync(_graph, tenants: t => t.Services.AddSingleton<ITenantInbox>(inbox));
        await host.Services.GetRequiredService<ICloudApiCredentialStore>().SetAsync(TenantId.Parse("tenant-a"), new CloudApiCredentials(Phone, "EAAGtoken-a"));

        using var response = await PostAsync(host, Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid.DOWN", 1739321024, "down")])));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.DoesNotContain("10.0.0.5", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static Task<HttpResponseMessage> PostAsync(CloudApiTestHost host, string payload)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks/whatsapp") { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        request.Headers.Add(WebhookSignature.HeaderName, WebhookSignature.Compute(CloudApiTestHost.AppSecret, Encoding.UTF8.GetBytes(payload)));
        return host.Http.SendAsync(request);
    }

    /// <summary>A handler that holds the first message until opened.</summary>
    private sealed class GatedHandler : ITenantEventHandler
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _handled = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Entered => _entered.Task;

        public Task Handled => _handled.Task;

        public void Open() => _open.TrySetResult();

        public async ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
        {
            if (tenantEvent is MessageEvent && !_handled.Task.IsCompleted)
            {
                _entered.TrySetResult();
                await _open.Task.WaitAsync(cancellationToken);
                _handled.TrySetResult();
            }
        }
    }

    /// <summary>An inbox whose writes fail as a store that is down does (the rest works in memory).</summary>
    private sealed class DownInbox : ITenantInbox
    {
        private readonly InMemoryTenantInbox _inner = new();

        public ValueTask<InboxWriteResult> WriteAsync(IReadOnlyList<InboxWrite> items, CancellationToken cancellationToken = default) =>
            ValueTask.FromException<InboxWriteResult>(new TimeoutException("connection to 10.0.0.5 timed out"));

        public ValueTask<bool> WriteUnroutedAsync(TenantAddress address, IReadOnlyList<InboxWrite> items, int capacity, CancellationToken cancellationToken = default) =>
            ValueTask.FromException<bool>(new TimeoutException("connection to 10.0.0.5 timed out"));

        public ValueTask<IReadOnlyList<InboxItem>> ClaimAsync(TenantId tenant, InboxConsumer consumer, int maxItems, CancellationToken cancellationToken = default) => _inner.ClaimAsync(tenant, consumer, maxItems, cancellationToken);

        public ValueTask<int> ResetClaimsAsync(TenantId tenant, long ownershipEpoch, CancellationToken cancellationToken = default) => _inner.ResetClaimsAsync(tenant, ownershipEpoch, cancellationToken);

        public ValueTask<bool> CompleteAsync(TenantId tenant, long itemId, InboxConsumer consumer, CancellationToken cancellationToken = default) => _inner.CompleteAsync(tenant, itemId, consumer, cancellationToken);

        public ValueTask<bool> FailAsync(TenantId tenant, long itemId, InboxConsumer consumer, string error, DateTimeOffset? retryAt, CancellationToken cancellationToken = default) => _inner.FailAsync(tenant, itemId, consumer, error, retryAt, cancellationToken);

        public ValueTask<IReadOnlyList<InboxItem>> ListDeadLettersAsync(TenantId tenant, int limit, long afterId = 0, CancellationToken cancellationToken = default) => _inner.ListDeadLettersAsync(tenant, limit, afterId, cancellationToken);

        public ValueTask<bool> RetryAsync(TenantId tenant, long itemId, CancellationToken cancellationToken = default) => _inner.RetryAsync(tenant, itemId, cancellationToken);

        public ValueTask<int> RetryAllAsync(TenantId tenant, CancellationToken cancellationToken = default) => _inner.RetryAllAsync(tenant, cancellationToken);

        public ValueTask<InboxCounts> CountAsync(TenantId tenant, CancellationToken cancellationToken = default) => _inner.CountAsync(tenant, cancellationToken);

        public ValueTask<int> PurgeCompletedAsync(DateTimeOffset completedBefore, CancellationToken cancellationToken = default) => _inner.PurgeCompletedAsync(completedBefore, cancellationToken);

        public ValueTask<int> AdoptUnroutedAsync(TenantAddress address, TenantId tenant, CancellationToken cancellationToken = default) => _inner.AdoptUnroutedAsync(address, tenant, cancellationToken);

        public ValueTask<long> CountUnroutedAsync(CancellationToken cancellationToken = default) => _inner.CountUnroutedAsync(cancellationToken);

        public Task WaitForItemsAsync(TenantId tenant, CancellationToken cancellationToken) => _inner.WaitForItemsAsync(tenant, cancellationToken);
    }
}
