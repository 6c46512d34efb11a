using System.Diagnostics;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Tests.Events;
using MultiTenant.Tests.Infrastructure;
using MultiTenant.Tests.Shared;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Tests.Diagnostics;

/// <summary>
/// The spans on <see cref="TenantTracing.ActivitySourceName"/>, seen through a real <see cref="ActivityListener"/> (what every
/// OpenTelemetry tracer provider uses). Other tests of this assembly run in parallel and make spans too, so each test keeps only the
/// spans of its own tenants.
/// </summary>
public sealed class TracingTests : IDisposable
{
    private readonly SpanCollector _spans = new();

    public void Dispose() => _spans.Dispose();

    [Fact]
    public async Task A_connect_is_a_client_span_with_the_business_id_and_a_failed_attempt_records_only_the_exception_type()
    {
        await using var h = Create();
        var client = await h.StartAsync(Id("trace-connect"));
        (await client.NextConnectAsync()).Fail(new IOException("secret detail 555-1234"));
        (await client.NextConnectAsync()).Succeed();
        await h.Statuses.WaitForStateAsync(Id("trace-connect"), TenantState.Connected);

        var connects = await SpansAsync("tenant connect", "trace-connect", count: 2);
        Assert.All(connects, static s => Assert.Equal(ActivityKind.Client, s.Kind));
        Assert.All(connects, static s => Assert.Contains(s.Events, static e => e.Name == "connect slot acquired"));
        var failed = Assert.Single(connects, static s => s.Status == ActivityStatusCode.Error);
        Assert.Equal("IOException", failed.StatusDescription);
        Assert.Equal("IOException", failed.GetTagItem(TenantTracing.ErrorTypeAttribute));
        Assert.DoesNotContain(failed.TagObjects, static t => t.Value is string v && v.Contains("555-1234", StringComparison.Ordinal));
        Assert.Single(connects, static s => s.Status == ActivityStatusCode.Unset);
    }

    [Fact]
    public async Task A_send_is_a_tenant_send_span_around_the_client_send_span()
    {
        await using var h = Create();
        await h.StartConnectedAsync(Id("trace-send"));
        await h.Coordinator.SendMessageAsync(Id("trace-send"), new OutboundMessage("+15550001", "hi")).WithTimeout();

        var send = Assert.Single(await SpansAsync("tenant send", "trace-send", count: 1));
        var clientSend = Assert.Single(await SpansAsync("tenant client send", "trace-send", count: 1));
        Assert.Equal(true, send.GetTagItem(TenantTracing.LocalAttribute));
        Assert.Equal("text", send.GetTagItem(TenantTracing.MessageKindAttribute));
        Assert.Equal(ActivityKind.Client, clientSend.Kind);
        Assert.Equal(send.SpanId, clientSend.ParentSpanId);
        Assert.Equal(send.TraceId, clientSend.TraceId);
    }

    [Fact]
    public async Task Handling_an_event_is_a_consumer_span_whose_parent_is_the_span_current_when_the_client_wrote_it()
    {
        using var receipt = new ActivitySource("MultiTenant.Tests.Receipt");
        using var receiptListener = new ActivityListener
        {
            ShouldListenTo = static s => s.Name == "MultiTenant.Tests.Receipt",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(receiptListener);
        var failing = new RecordingHandler { OnHandle = static (_, _, _) => throw new InvalidOperationException("handler detail") };
        await using var h = Create(handlers: [failing]);
        var client = await h.StartConnectedAsync(Id("trace-handle"));

        ActivityContext parent;
        using (var webhook = receipt.StartActivity("webhook receive"))
        {
            parent = webhook!.Context;
            await client.Context.Events.DeliverAsync(new MessageEvent()).AsTask().WithTimeout();
        }

        // The client's own events (connected, ...) are handled too: keep the message's span.
        var handle = Assert.Single(await SpansAsync(
            "tenant handle", "trace-handle", count: 1, static s => (string?)s.GetTagItem(TenantTracing.EventAttribute) == nameof(MessageEvent)));
        Assert.Equal(ActivityKind.Consumer, handle.Kind);
        Assert.Equal(parent.TraceId, handle.TraceId);
        Assert.Equal(parent.SpanId, handle.ParentSpanId);
        Assert.Equal(ActivityStatusCode.Error, handle.Status);
        Assert.Equal("InvalidOperationException", handle.StatusDescription);
    }

    private async Task<Activity[]> SpansAsync(string name, string businessId, int count, Func<Activity, bool>? where = null) =>
        [.. await _spans.WaitForAsync(name, businessId, count, where)];
}
