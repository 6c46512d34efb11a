using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using static MultiTenant.CloudApi.Tests.Infrastructure.MetaPayloads;

namespace MultiTenant.CloudApi.Tests;

/// <summary>When a delivery cannot be handled now: slow handlers, tenants that do not run here.</summary>
public sealed class WebhookDeliveryPolicyTests : IAsyncLifetime
{
    private const string Phone = "106540352242922";

    private FakeGraphApi _graph = null!;

    public async Task InitializeAsync() => _graph = await FakeGraphApi.StartAsync();

    public async Task DisposeAsync() => await _graph.DisposeAsync();

    [Fact]
    public async Task Delivery_whose_handlers_are_too_slow_gets_503_and_the_retry_is_not_handled_twice()
    {
        var gate = new GatedHandler();
        await using var host = await CloudApiTestHost.StartAsync(_graph, o => o.WebhookHandlingTimeout = TimeSpan.FromMilliseconds(200), extraHandler: gate);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, "EAAGtoken-a");
        await host.StartConnectedAsync(tenant);
        string payload = Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid.SLOW", 1739321024, "slow")]));

        using var first = await PostAsync(host, payload); // the handler holds the message: not acknowledged in time
        using var whileHandling = await PostAsync(host, payload); // Meta's retry while the first attempt is still being handled
        gate.Open();
        await gate.Handled.WaitAsync(TimeSpan.FromSeconds(30));
        using var afterHandling = await PostAsync(host, payload);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, whileHandling.StatusCode);
        Assert.Equal(HttpStatusCode.OK, afterHandling.StatusCode);
        Assert.Single(host.Events.Of<MessageEvent>(tenant));
    }

    [Fact]
    public async Task With_the_drop_policy_a_delivery_for_a_stopped_tenant_gets_200_and_is_counted()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph, o => o.StoppedTenantDelivery = StoppedTenantDelivery.Drop);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, "EAAGtoken-a");
        using var events = new MetricCollector<long>(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), TenantMetrics.MeterName, "whatsmeow.cloudapi.webhook.events");

        using var response = await PostAsync(host, Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid.DROP", 1739321024, "dropped")])));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(events.GetMeasurementSnapshot(), m => m.Value == 1 && Equals(m.Tags["outcome"], "dropped") && Equals(m.Tags["kind"], "message"));
        Assert.Empty(host.Events.Of<MessageEvent>(tenant));
    }

    private static Task<HttpResponseMessage> PostAsync(CloudApiTestHost host, string payload)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks/whatsapp") { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        request.Headers.Add(WebhookSignature.HeaderName, WebhookSignature.Compute(CloudApiTestHost.AppSecret, Encoding.UTF8.GetBytes(payload)));
        return host.Http.SendAsync(request);
    }

    /// <summary>A handler that holds every event until opened.</summary>
    private sealed class GatedHandler : ITenantEventHandler
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _handled = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Handled => _handled.Task;

        public void Open() => _open.TrySetResult();

        public async ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
        {
            if (tenantEvent is MessageEvent)
            {
                await _open.Task.WaitAsync(cancellationToken);
                _handled.TrySetResult();
            }
        }
    }
}
