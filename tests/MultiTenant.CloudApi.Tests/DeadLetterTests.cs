using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Inbox;
using static MultiTenant.CloudApi.Tests.Infrastructure.MetaPayloads;

namespace MultiTenant.CloudApi.Tests;

/// <summary>A handler that keeps failing: its item becomes a dead letter, is listed and retried through the tenant API.</summary>
public sealed class DeadLetterTests : IAsyncLifetime
{
    private const string Phone = "106540352242922";

    private readonly FailingHandler _failing = new();
    private FakeGraphApi _graph = null!;
    private CloudApiTestHost _host = null!;
    private TenantId _tenant;

    public async Task InitializeAsync()
    {
        _graph = await FakeGraphApi.StartAsync();
        _host = await CloudApiTestHost.StartAsync(
            _graph,
            extraHandler: _failing,
            tenants: t => t.Services.Configure<InboxDeliveryOptions>(o =>
            {
                o.MaxAttempts = 3;
                o.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
                o.RetryMaxDelay = TimeSpan.FromMilliseconds(20);
            }));
        _tenant = await _host.AddTenantAsync(_graph, "tenant-a", Phone, "EAAGtoken-a");
        await _host.StartConnectedAsync(_tenant);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _graph.DisposeAsync();
    }

    [Fact]
    public async Task Handler_that_always_throws_makes_a_dead_letter_that_the_api_lists_and_a_retry_gets_handled()
    {
        using var retries = new MetricCollector<long>(_host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), TenantMetrics.MeterName, "whatsmeow.inbox.retries");
        using var deliveries = new MetricCollector<long>(_host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), TenantMetrics.MeterName, "whatsmeow.inbox.deliveries");
        _failing.FailText = "poison";
        await PostAsync("wamid.POISON", "poison");
        await PostAsync("wamid.NEXT", "next");

        // The dead letter no longer holds back the tenant's later items: "next" is handled once "poison" gave up.
        await _failing.WaitForHandledAsync(1);
        Assert.Equal(3, _failing.Attempts("poison"));
        Assert.Equal(["next"], _failing.Handled);
        Assert.Contains(deliveries.GetMeasurementSnapshot(), m => Equals(m.Tags["result"], "dead_letter"));

        using var list = await _host.Http.GetAsync("/api/tenants/tenant-a/dead-letters");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        using var json = JsonDocument.Parse(await list.Content.ReadAsStringAsync());
        var item = Assert.Single(json.RootElement.GetProperty("items").EnumerateArray());
        Assert.Equal("m/wamid.POISON", item.GetProperty("key").GetString());
        Assert.Equal("cloudapi", item.GetProperty("source").GetString());
        Assert.Equal("message", item.GetProperty("kind").GetString());
        Assert.Equal(3, item.GetProperty("attempts").GetInt32());
        Assert.Equal($"Handler {nameof(FailingHandler)} threw {nameof(InvalidOperationException)}.", item.GetProperty("last_error").GetString());
        Assert.DoesNotContain("secret", item.GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("next_after").ValueKind);

        _failing.FailText = null;
        string id = item.GetProperty("id").GetString()!;
        using var retry = await _host.Http.PostAsync($"/api/tenants/tenant-a/dead-letters/{id}/retry", null);
        Assert.Equal(HttpStatusCode.NoContent, retry.StatusCode);
        await _failing.WaitForHandledAsync(2);

        Assert.Equal(["next", "poison"], _failing.Handled);
        Assert.Equal(1, retries.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(new InboxCounts(0, 2, 0), await _host.Services.GetRequiredService<ITenantInbox>().CountAsync(_tenant));
        using var again = await _host.Http.PostAsync($"/api/tenants/tenant-a/dead-letters/{id}/retry", null);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Equal("application/problem+json", again.Content.Headers.ContentType!.MediaType);
    }

    [Theory]
    [InlineData("/api/tenants/tenant-a/dead-letters?limit=0")]
    [InlineData("/api/tenants/tenant-a/dead-letters?limit=1001")]
    [InlineData("/api/tenants/tenant-a/dead-letters?after=-1")]
    [InlineData("/api/tenants/bad%20id/dead-letters")]
    public async Task Bad_queries_get_400_problems(string url)
    {
        using var response = await _host.Http.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Retry_of_an_id_that_is_not_a_number_gets_400()
    {
        using var response = await _host.Http.PostAsync("/api/tenants/tenant-a/dead-letters/abc/retry", null);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    private async Task PostAsync(string messageId, string text)
    {
        string payload = Envelope(Change(Phone, messages: [TextMessage("16505551234", messageId, 1739321024, text)]));
        var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks/whatsapp") { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        request.Headers.Add(WebhookSignature.HeaderName, WebhookSignature.Compute(CloudApiTestHost.AppSecret, Encoding.UTF8.GetBytes(payload)));
        using var response = await _host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>
    /// Throws for messages whose text is <see cref="FailText"/> ("*": every message), counts the attempts per text, and records the
    /// texts it handled without throwing, in order (the recording handler sees every attempt).
    /// </summary>
    private sealed class FailingHandler : ITenantEventHandler
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<string, int> _attempts = new(StringComparer.Ordinal);
        private readonly List<(string Text, int Count, TaskCompletionSource Signal)> _waiters = [];
        private readonly List<string> _handled = [];
        private readonly List<(int Count, TaskCompletionSource Signal)> _handledWaiters = [];

        public List<string> Handled
        {
            get
            {
                lock (_gate)
                {
                    return [.. _handled];
                }
            }
        }

        public Task WaitForHandledAsync(int count)
        {
            lock (_gate)
            {
                if (_handled.Count >= count)
                {
                    return Task.CompletedTask;
                }

                var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _handledWaiters.Add((count, signal));
                return signal.Task.WaitAsync(TimeSpan.FromSeconds(30));
            }
        }

        public string? FailText { get; set; }

        public int Attempts(string text)
        {
            lock (_gate)
            {
                return _attempts.GetValueOrDefault(text);
            }
        }

        public Task WaitForAttemptsAsync(string text, int count)
        {
            lock (_gate)
            {
                if (_attempts.GetValueOrDefault(text) >= count)
                {
                    return Task.CompletedTask;
                }

                var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((text, count, signal));
                return signal.Task.WaitAsync(TimeSpan.FromSeconds(30));
            }
        }

        public ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
        {
            if (tenantEvent is not MessageEvent { Text: { } text })
            {
                return ValueTask.CompletedTask;
            }

            bool fail = FailText == "*" || FailText == text;
            if (fail)
            {
                lock (_gate)
                {
                    int attempts = _attempts.GetValueOrDefault(text) + 1;
                    _attempts[text] = attempts;
                    _waiters.RemoveAll(w => w.Text == text && attempts >= w.Count && w.Signal.TrySetResult());
                }

                throw new InvalidOperationException("secret detail");
            }

            lock (_gate)
            {
                _handled.Add(text);
                _handledWaiters.RemoveAll(w => _handled.Count >= w.Count && w.Signal.TrySetResult());
            }

            return ValueTask.CompletedTask;
        }
    }
}
