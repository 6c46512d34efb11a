using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.Clients;
using MultiTenant.Events;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using MultiTenant.Storage;
using MultiTenant.Wuzapi.Tests.Infrastructure;

namespace MultiTenant.Wuzapi.Tests;

/// <summary>Provisioning, connect, QR pairing, logout and lost engine users against the fake engine on loopback.</summary>
public sealed class LifecycleTests : IAsyncLifetime
{
    private FakeWuzapiEngine _engine = null!;
    private WuzapiTestHost _host = null!;

    public async Task InitializeAsync()
    {
        _engine = await FakeWuzapiEngine.StartAsync();
        _host = await WuzapiTestHost.StartAsync(_engine);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _engine.DisposeAsync();
    }

    [Fact]
    public async Task A_new_tenant_gets_an_engine_user_named_after_it_with_its_webhook_events_and_hmac_key_and_its_secrets_encrypted_at_rest()
    {
        var tenant = TenantId.Parse("shop-1");

        await _host.Coordinator.StartAsync(tenant);
        await _host.WaitForChallengeAsync(tenant);

        var user = _engine.User("shop-1");
        Assert.Equal(new Uri(_host.Http.BaseAddress!, "webhooks/wuzapi/shop-1").AbsoluteUri, user.Webhook);
        Assert.Equal("Message,ReadReceipt,Presence,HistorySync,ChatPresence", user.Events);
        Assert.Equal(64, user.Token.Length);
        Assert.Equal(64, user.HmacKey!.Length);
        Assert.NotEqual(user.Token, user.HmacKey);
        var add = Assert.Single(_engine.Requests, r => r is { Method: "POST", Path: "/admin/users" });
        Assert.Equal(FakeWuzapiEngine.AdminToken, add.Authorization);
        Assert.Contains("\"expiration\":0", add.Body, StringComparison.Ordinal);
        var hmac = Assert.Single(_engine.Requests, r => r.Path == "/session/hmac/config");
        Assert.Equal(user.Token, hmac.Token);

        byte[] stored = (await _host.Services.GetRequiredService<ITenantStateStoreProvider>().GetStore(tenant).GetAsync("wuzapi", "user"))!;
        string text = Encoding.UTF8.GetString(stored);
        SecretScan.AssertAbsent(text, user.Token, "the stored engine user");
        SecretScan.AssertAbsent(text, user.HmacKey, "the stored engine user");
        Assert.Contains("\"engine\":\"main\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_qr_code_shows_on_the_pairing_board_until_the_phone_scans_it_then_the_tenant_is_connected()
    {
        var tenant = TenantId.Parse("shop-2");
        await _host.Coordinator.StartAsync(tenant);

        var first = await _host.WaitForChallengeAsync(tenant);
        var next = await _host.WaitForChallengeAsync(tenant, c => c.QrCode != first.QrCode);
        Assert.StartsWith("data:image/png;base64,", first.QrCode, StringComparison.Ordinal);
        Assert.NotEqual(first.QrCode, next.QrCode); // refreshed from GET /session/qr while waiting
        Assert.Equal(TenantState.Starting, (await _host.Coordinator.GetStatusAsync(tenant))!.State);

        _engine.Pair("shop-2");
        await _host.Events.WaitForAsync<TenantConnectedEvent>(tenant);

        Assert.Null(_host.Pairing.Get(tenant));
        Assert.Equal(TenantState.Connected, (await _host.Coordinator.GetStatusAsync(tenant))!.State);
        var connect = _engine.Requests.First(r => r.Path == "/session/connect");
        Assert.Contains("\"Subscribe\":[\"Message\",\"ReadReceipt\",\"Presence\",\"HistorySync\",\"ChatPresence\"]", connect.Body, StringComparison.Ordinal);
        Assert.Contains("\"Immediate\":true", connect.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_paired_tenant_started_again_connects_with_its_engine_session_without_a_qr_code_or_a_new_user()
    {
        var tenant = TenantId.Parse("shop-3");
        await _host.StartPairedAsync(_engine, tenant);
        await _host.Coordinator.StopAsync(tenant);
        Assert.Equal(1, _engine.Count("POST", "/session/disconnect")); // the engine keeps the device
        int qrBefore = _engine.Count("GET", "/session/qr");

        await _host.Coordinator.StartAsync(tenant);
        await _host.Events.WaitForAsync<TenantConnectedEvent>(tenant, 2);

        Assert.Equal(qrBefore, _engine.Count("GET", "/session/qr"));
        Assert.Equal(1, _engine.Count("POST", "/admin/users"));
        Assert.Equal(2, _engine.Count("POST", "/session/connect"));
        Assert.Equal(1, _engine.Count("GET", "/admin/users/" + _engine.User("shop-3").Id)); // checked at the second connect
    }

    [Fact]
    public async Task Pairing_by_phone_shows_the_engines_linking_code_instead_of_the_qr_code()
    {
        var tenant = TenantId.Parse("shop-4");
        using (var put = await _host.Http.PutAsync("/api/tenants/shop-4/wuzapi/pair-phone", new StringContent("""{"phone":"5491155554444"}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        }

        await _host.Coordinator.StartAsync(tenant);
        var challenge = await _host.WaitForChallengeAsync(tenant);

        Assert.Equal("ABCD-4444", challenge.PairingCode);
        Assert.Null(challenge.QrCode);
        Assert.Contains("\"Phone\":\"5491155554444\"", Assert.Single(_engine.Requests, r => r.Path == "/session/pairphone").Body, StringComparison.Ordinal);
        _engine.Pair("shop-4");
        await _host.Events.WaitForAsync<TenantConnectedEvent>(tenant);
        Assert.Null(_host.Pairing.Get(tenant));
    }

    [Fact]
    public async Task A_bad_pairing_phone_is_a_problem_and_an_unknown_member_too()
    {
        using var digits = await _host.Http.PutAsync("/api/tenants/shop-5/wuzapi/pair-phone", new StringContent("""{"phone":"+54 9 11"}""", Encoding.UTF8, "application/json"));
        using var member = await _host.Http.PutAsync("/api/tenants/shop-5/wuzapi/pair-phone", new StringContent("""{"phone":"5491155554444","name":"x"}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, digits.StatusCode);
        Assert.Equal("application/problem+json", digits.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.BadRequest, member.StatusCode);
    }

    [Fact]
    public async Task A_logout_from_the_phone_moves_the_tenant_to_error_with_reason_logged_out()
    {
        var tenant = TenantId.Parse("shop-6");
        await _host.StartPairedAsync(_engine, tenant);

        _engine.LogOutFromPhone("shop-6");
        await _host.Events.WaitForAsync<TenantFaultedEvent>(tenant);

        var faulted = Assert.Single(_host.Events.Of<TenantFaultedEvent>(tenant));
        Assert.Equal(TenantFatalReason.LoggedOut, faulted.Reason);
        Assert.Equal(TenantState.Error, (await _host.Coordinator.GetStatusAsync(tenant))!.State);
        Assert.Contains("logged out from the phone", faulted.Error, StringComparison.Ordinal);

        // Started again, it pairs from scratch: a QR code on the board.
        await _host.Coordinator.StartAsync(tenant);
        Assert.NotNull((await _host.WaitForChallengeAsync(tenant)).QrCode);
    }

    [Fact]
    public async Task The_logout_endpoint_logs_the_device_out_at_the_engine_and_the_tenant_goes_to_error()
    {
        var tenant = TenantId.Parse("shop-7");
        await _host.StartPairedAsync(_engine, tenant);

        using var response = await _host.Http.PostAsync("/api/tenants/shop-7/logout", null);
        await _host.Events.WaitForAsync<TenantFaultedEvent>(tenant);

        Assert.True(response.IsSuccessStatusCode, response.StatusCode.ToString());
        Assert.Equal(1, _engine.Count("POST", "/session/logout"));
        Assert.False(_engine.User("shop-7").HasDevice);
        Assert.Equal(TenantFatalReason.LoggedOut, Assert.Single(_host.Events.Of<TenantFaultedEvent>(tenant)).Reason);
    }

    [Fact]
    public async Task An_engine_that_lost_the_user_gets_a_new_one_with_new_secrets_at_the_next_connect()
    {
        var tenant = TenantId.Parse("shop-8");
        await _host.StartPairedAsync(_engine, tenant);
        string oldToken = _engine.User("shop-8").Token;

        _engine.LoseUsers(); // the engine's database was reset: the health check gets 401, the reconnect re-creates the user
        var challenge = await _host.WaitForChallengeAsync(tenant);

        var user = _engine.User("shop-8");
        Assert.NotEqual(oldToken, user.Token);
        Assert.NotNull(user.HmacKey);
        Assert.NotNull(challenge.QrCode);
        Assert.Contains(_host.Logs.GetSnapshot(), r => r.Id.Id == Diagnostics.WuzapiEventIds.EngineUserLost);
    }
}
