using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.Clients;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Events;
using Xunit.Abstractions;

namespace MultiTenant.CloudApi.Tests;

/// <summary>Sending text messages through <c>ITenantCoordinator.SendMessageAsync</c> against the fake Graph API.</summary>
public sealed class SendTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Phone = "106540352242922";
    private const string Token = "EAAGtoken-tenant-a-0001";

    private FakeGraphApi _graph = null!;

    public async Task InitializeAsync() => _graph = await FakeGraphApi.StartAsync();

    public async Task DisposeAsync() => await _graph.DisposeAsync();

    [Fact]
    public async Task Send_posts_the_documented_json_body_and_returns_the_message_id()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);

        var result = await host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("+15551234567", "Hello from the Cloud API"));

        Assert.Equal("wamid.FAKE1", result.MessageId);
        var send = Assert.Single(_graph.Sends);
        Assert.Equal("/v21.0/" + Phone + "/messages", send.Path);
        Assert.Equal("Bearer " + Token, send.Authorization);
        const string documented = """{"messaging_product":"whatsapp","recipient_type":"individual","to":"15551234567","type":"text","text":{"preview_url":false,"body":"Hello from the Cloud API"}}""";
        Assert.Equal(documented, send.Body);
    }

    [Fact]
    public async Task Text_with_quotes_and_non_ascii_is_sent_as_equivalent_json()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);
        const string text = "Olá \"mundo\" 👋\nline two";

        await host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551234567", text));

        using var body = JsonDocument.Parse(Assert.Single(_graph.Sends).Body);
        Assert.Equal(text, body.RootElement.GetProperty("text").GetProperty("body").GetString());
        Assert.False(body.RootElement.GetProperty("text").GetProperty("preview_url").GetBoolean());
    }

    [Theory]
    [InlineData("not-a-number")]
    [InlineData("123")]
    [InlineData("")]
    public async Task Invalid_recipient_is_refused_without_calling_graph(string to)
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);

        var error = await Assert.ThrowsAsync<TenantSendException>(() => host.Coordinator.SendMessageAsync(tenant, new OutboundMessage(to, "hi")));

        Assert.False(error.IsTransient);
        Assert.Equal("invalid_recipient", error.ErrorCode);
        Assert.Empty(_graph.Sends);
    }

    [Theory]
    [InlineData(131048)]
    [InlineData(368)]
    public async Task Policy_errors_are_reported_as_not_transient_with_a_clear_message(int code)
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);
        _graph.FailNextSend(code);

        var error = await Assert.ThrowsAsync<TenantSendException>(() => host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551234567", "hi")));

        Assert.False(error.IsTransient);
        Assert.Equal(code.ToString(System.Globalization.CultureInfo.InvariantCulture), error.ErrorCode);
        Assert.Contains("policy reason", error.Message, StringComparison.Ordinal);
        Assert.Contains("Graph error " + code, error.Message, StringComparison.Ordinal);
        Assert.Equal(TenantState.Connected, (await host.Coordinator.GetStatusAsync(tenant))!.State);
    }

    [Fact]
    public async Task Throughput_limit_is_transient_with_a_retry_time()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);
        _graph.FailNextSend(130429);

        var error = await Assert.ThrowsAsync<TenantSendException>(() => host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551234567", "hi")));

        Assert.True(error.IsTransient);
        Assert.Equal("130429", error.ErrorCode);
        Assert.Equal(TimeSpan.FromSeconds(1), error.RetryAfter);
    }

    [Fact]
    public async Task Account_rate_limit_pauses_all_sends_of_the_tenant()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph, o => o.ThrottlePause = TimeSpan.FromSeconds(60));
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);
        _graph.FailNextSend(80007);

        var throttled = await Assert.ThrowsAsync<TenantSendException>(() => host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551234567", "hi")));
        var paused = await Assert.ThrowsAsync<TenantSendException>(() => host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15557654321", "hi")));

        Assert.True(throttled.IsTransient);
        Assert.Equal(TimeSpan.FromSeconds(60), throttled.RetryAfter);
        Assert.True(paused.IsTransient);
        Assert.Equal("rate_limited", paused.ErrorCode);
        Assert.InRange(paused.RetryAfter!.Value, TimeSpan.FromSeconds(50), TimeSpan.FromSeconds(60));
        Assert.Single(_graph.Sends); // the paused send never reached Graph
    }

    [Fact]
    public async Task Pair_rate_limit_holds_back_only_that_recipient()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph, o => o.RecipientThrottleDelay = TimeSpan.FromSeconds(30));
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);
        _graph.FailNextSendTo("15551111111", 131056);

        var first = await Assert.ThrowsAsync<TenantSendException>(() => host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551111111", "one")));
        var other = await host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15552222222", "to someone else"));
        var again = await Assert.ThrowsAsync<TenantSendException>(() => host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551111111", "two")));

        Assert.True(first.IsTransient);
        Assert.Equal("131056", first.ErrorCode);
        Assert.Equal(TimeSpan.FromSeconds(30), first.RetryAfter);
        Assert.StartsWith("wamid.", other.MessageId, StringComparison.Ordinal);
        Assert.Equal("recipient_rate_limited", again.ErrorCode);
        Assert.InRange(again.RetryAfter!.Value, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30));
        Assert.Equal(2, _graph.Sends.Count); // the held-back send never reached Graph
    }

    [Fact]
    public async Task Server_errors_are_transient_without_a_retry_time()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);
        _graph.FailNextSend(131000, HttpStatusCode.InternalServerError);

        var error = await Assert.ThrowsAsync<TenantSendException>(() => host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551234567", "hi")));

        Assert.True(error.IsTransient);
        Assert.Null(error.RetryAfter);
    }

    [Fact]
    public async Task Token_revoked_during_a_send_moves_the_tenant_to_error()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);
        _graph.Revoke(Token);

        var error = await Assert.ThrowsAsync<TenantSendException>(() => host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551234567", "hi")));
        await host.Events.WaitForAsync<TenantFaultedEvent>(tenant);

        Assert.False(error.IsTransient);
        Assert.Equal("190", error.ErrorCode);
        var status = await host.Coordinator.GetStatusAsync(tenant);
        Assert.Equal(TenantState.Error, status!.State);
        Assert.Contains("access token was rejected", status.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, status.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task New_token_stored_after_a_rotation_is_used_instead_of_failing()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);

        // Another host stored a new token (written straight to the state store, so this host's client was not told) and the old
        // one was revoked: the 190 makes the client re-read the store and retry once with the new token.
        const string rotated = "EAAGtoken-tenant-a-0002";
        _graph.AddNumber(Phone, rotated);
        _graph.Revoke(Token);
        var store = host.Services.GetRequiredService<MultiTenant.Storage.ITenantStateStoreProvider>().GetStore(tenant);
        await host.Services.GetRequiredService<CredentialStorage>().WriteAsync(store, new CloudApiCredentials(Phone, rotated), DateTimeOffset.UnixEpoch, CancellationToken.None);

        var result = await host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551234567", "hi"));

        Assert.StartsWith("wamid.", result.MessageId, StringComparison.Ordinal);
        Assert.Equal(["Bearer " + Token, "Bearer " + rotated], _graph.Sends.Select(s => s.Authorization));
        Assert.Equal(TenantState.Connected, (await host.Coordinator.GetStatusAsync(tenant))!.State);
    }

    [Fact]
    public async Task Two_hundred_sends_at_80_per_second_take_at_least_2_4_seconds_and_none_is_lost()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph, o => o.MessagesPerSecond = 80);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);
        var recipients = Enumerable.Range(0, 200).Select(i => "1555" + i.ToString("D7", System.Globalization.CultureInfo.InvariantCulture)).ToArray();

        var clock = Stopwatch.StartNew();
        var results = await Task.WhenAll(recipients.Select(to => host.Coordinator.SendMessageAsync(tenant, new OutboundMessage(to, "bulk " + to))));
        clock.Stop();

        output.WriteLine($"200 sends at 80/s took {clock.Elapsed.TotalMilliseconds:F0} ms");
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(2.4), $"200 sends took only {clock.Elapsed}");
        Assert.Equal(200, results.Select(r => r.MessageId).Distinct().Count());
        var received = _graph.Sends.Select(s => JsonDocument.Parse(s.Body).RootElement.GetProperty("to").GetString()).Order().ToArray();
        Assert.Equal(recipients.Order().ToArray(), received);
    }
}
