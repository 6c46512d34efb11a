using System.Net;
using System.Text;
using System.Text.Json;
using MultiTenant.Clients;
using MultiTenant.CloudApi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.Events;
using MultiTenant.Inbox;

namespace MultiTenant.CloudApi.Tests;

/// <summary>Per-tenant credentials through the library and <c>…/cloud-api/credentials</c>: stored, used, never echoed or logged.</summary>
public sealed class CredentialsTests : GraphAndHostTest
{
    private const string Phone = "106540352242922";
    private const string Token = "EAAGsecret-token-that-must-never-leak-0123456789";

    [Fact]
    public async Task Credentials_set_through_the_api_let_the_tenant_connect_and_send_and_the_token_is_never_echoed_or_logged()
    {
        Graph.AddNumber(Phone, Token);

        using var put = await PutAsync("tenant-a", $$"""{"phone_number_id":"{{Phone}}","access_token":"{{Token}}","waba_id":"102290129340398"}""");
        using var get = await Host.Http.GetAsync("/api/tenants/tenant-a/cloud-api/credentials");
        var tenant = TenantId.Parse("tenant-a");
        await Host.StartConnectedAsync(tenant);
        await Host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551234567", "hi"));
        Graph.Revoke(Token);
        await Assert.ThrowsAsync<TenantSendException>(() => Host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551234567", "hi")));
        await Host.Events.WaitForAsync<TenantFaultedEvent>(tenant);

        Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        string body = await get.Content.ReadAsStringAsync();
        Assert.DoesNotContain(Token, body, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("tenant-a", json.RootElement.GetProperty("business_id").GetString());
        Assert.Equal(Phone, json.RootElement.GetProperty("phone_number_id").GetString());
        Assert.Equal("102290129340398", json.RootElement.GetProperty("waba_id").GetString());
        Assert.True(json.RootElement.GetProperty("has_access_token").GetBoolean());
        Assert.False(json.RootElement.TryGetProperty("access_token", out _));
        Assert.Equal("no-store", get.Headers.CacheControl!.ToString());
        Assert.Equal("Bearer " + Token, Graph.Probes[0].Authorization);

        // Every log record at every level (HttpClient's request logging included), and the tenant's error, stay free of the token.
        var logs = Host.Logs.GetSnapshot();
        Assert.Contains(logs, r => r.Message.Contains("Authorization: *", StringComparison.Ordinal)); // headers were logged, redacted
        Assert.All(logs, r => Assert.DoesNotContain(Token, r.Message + r.Exception, StringComparison.Ordinal));
        Assert.DoesNotContain(Token, (await Host.Coordinator.GetStatusAsync(tenant))!.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, new CloudApiCredentials(Phone, Token).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task New_credentials_apply_at_once_to_a_running_tenant()
    {
        var tenant = await Host.AddTenantAsync(Graph, "tenant-a", Phone, Token);
        await Host.StartConnectedAsync(tenant);
        const string rotated = "EAAGrotated-token-0002";
        Graph.AddNumber(Phone, rotated);

        using var put = await PutAsync("tenant-a", $$"""{"phone_number_id":"{{Phone}}","access_token":"{{rotated}}"}""");
        await Host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551234567", "hi"));

        Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        Assert.Equal("Bearer " + rotated, Assert.Single(Graph.Sends).Authorization);
    }

    [Fact]
    public async Task Deleting_the_credentials_of_a_running_tenant_stops_it_with_an_error()
    {
        var tenant = await Host.AddTenantAsync(Graph, "tenant-a", Phone, Token);
        await Host.StartConnectedAsync(tenant);

        using var delete = await Host.Http.DeleteAsync("/api/tenants/tenant-a/cloud-api/credentials");
        await Host.Events.WaitForAsync<TenantFaultedEvent>(tenant);
        using var get = await Host.Http.GetAsync("/api/tenants/tenant-a/cloud-api/credentials");
        using var deleteAgain = await Host.Http.DeleteAsync("/api/tenants/tenant-a/cloud-api/credentials");

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, deleteAgain.StatusCode);
        Assert.Contains("credentials were deleted", (await Host.Coordinator.GetStatusAsync(tenant))!.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_phone_number_belongs_to_one_tenant()
    {
        await Host.AddTenantAsync(Graph, "tenant-a", Phone, Token);

        using var response = await PutAsync("tenant-b", $$"""{"phone_number_id":"{{Phone}}","access_token":"EAAGother"}""");

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.DoesNotContain("tenant-a", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal); // never the other tenant's id
        await Assert.ThrowsAsync<CloudApiPhoneNumberInUseException>(() =>
            Host.Credentials.SetAsync(TenantId.Parse("tenant-c"), new CloudApiCredentials(Phone, "EAAGother")).AsTask());
    }

    [Fact]
    public async Task Concurrent_puts_of_one_number_for_different_tenants_have_exactly_one_winner()
    {
        var puts = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            PutAsync("tenant-" + i, $$"""{"phone_number_id":"{{Phone}}","access_token":"EAAGtoken-{{i}}"}""")));

        Assert.Single(puts, r => r.StatusCode == HttpStatusCode.NoContent);
        Assert.Equal(7, puts.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        var index = Host.Services.GetRequiredService<ITenantAddressIndex>();
        var owner = await index.FindAsync(new TenantAddress("cloudapi", Phone));
        int winner = Array.FindIndex(puts, r => r.StatusCode == HttpStatusCode.NoContent);
        Assert.Equal(TenantId.Parse("tenant-" + winner), owner);
        foreach (var put in puts)
        {
            put.Dispose();
        }
    }

    [Fact]
    public async Task Get_never_claims_and_delete_releases_the_number()
    {
        var index = Host.Services.GetRequiredService<ITenantAddressIndex>();
        var address = new TenantAddress("cloudapi", Phone);
        using var getNothing = await Host.Http.GetAsync("/api/tenants/tenant-a/cloud-api/credentials");
        Assert.Equal(HttpStatusCode.NotFound, getNothing.StatusCode);
        Assert.Null(await index.FindAsync(address));

        using var put = await PutAsync("tenant-a", $$"""{"phone_number_id":"{{Phone}}","access_token":"{{Token}}"}""");
        Assert.Equal(TenantId.Parse("tenant-a"), await index.FindAsync(address));
        using var delete = await Host.Http.DeleteAsync("/api/tenants/tenant-a/cloud-api/credentials");
        Assert.Null(await index.FindAsync(address));

        using var other = await PutAsync("tenant-b", $$"""{"phone_number_id":"{{Phone}}","access_token":"{{Token}}"}""");
        Assert.Equal(HttpStatusCode.NoContent, other.StatusCode);
    }

    [Fact]
    public async Task Changing_the_number_releases_the_previous_one()
    {
        var index = Host.Services.GetRequiredService<ITenantAddressIndex>();
        var tenant = TenantId.Parse("tenant-a");
        await Host.Credentials.SetAsync(tenant, new CloudApiCredentials(Phone, Token));
        await Host.Credentials.SetAsync(tenant, new CloudApiCredentials("106540352242000", Token));

        Assert.Null(await index.FindAsync(new TenantAddress("cloudapi", Phone)));
        Assert.Equal(tenant, await index.FindAsync(new TenantAddress("cloudapi", "106540352242000")));
        Assert.Equal(["106540352242000"], (await index.ListAsync(tenant, "cloudapi")).Select(a => a.Value));
    }

    [Theory]
    [InlineData("""{"phone_number_id":"106540352242922"}""", "'access_token' is missing")]
    [InlineData("""{"access_token":"EAAGsecret-in-a-bad-body"}""", "'phone_number_id' is missing")]
    [InlineData("""{"phone_number_id":"+1 555","access_token":"EAAGsecret-in-a-bad-body"}""", "digits only")]
    [InlineData("""{"phone_number_id":"106540352242922","access_token":"EAAG secret-in-a-bad-body"}""", "printable ASCII")]
    [InlineData("""{"phone_number_id":"106540352242922","acces_token":"EAAGsecret-in-a-bad-body"}""", "The member 'acces_token' is not accepted")]
    [InlineData("""{"phone_number_id":"106540352242922","access_token":"EAAGsecret-in-a-bad-body","access_token":"EAAGsecret-2"}""", "'access_token' appears more than once")]
    [InlineData("""{"phone_number_id":"106540352242922","access_token":5}""", "'access_token' must be a string; it is a number")]
    [InlineData("""{"phone_number_id":"106540352242922","access_token":null}""", "'access_token' must be a string, not null")]
    [InlineData("""["EAAGsecret-in-a-bad-body"]""", "must be a JSON object")]
    [InlineData("""{"phone_number_id":"106540352242922","access_token":"EAAGsecret-in-a-bad-body""", "not valid JSON")]
    public async Task Bad_bodies_get_400_problems_that_never_repeat_the_token(string body, string expected)
    {
        using var response = await PutAsync("tenant-a", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        string problem = await response.Content.ReadAsStringAsync();
        Assert.Contains(expected, problem, StringComparison.Ordinal);
        Assert.DoesNotContain("EAAGsecret", problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_business_id_gets_400()
    {
        using var response = await PutAsync("-bad!", $$"""{"phone_number_id":"{{Phone}}","access_token":"{{Token}}"}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.StartsWith("The business id must", json.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(""","waba_id":null""")]
    [InlineData("")]
    public async Task The_waba_id_may_be_null_or_absent(string waba)
    {
        using var put = await PutAsync("tenant-a", $$"""{"phone_number_id":"{{Phone}}","access_token":"{{Token}}"{{waba}}}""");
        using var get = await Host.Http.GetAsync("/api/tenants/tenant-a/cloud-api/credentials");

        Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        using var json = JsonDocument.Parse(await get.Content.ReadAsStringAsync());
        Assert.Equal(Phone, json.RootElement.GetProperty("phone_number_id").GetString());
        Assert.False(json.RootElement.TryGetProperty("waba_id", out _));
    }

    [Fact]
    public async Task Body_that_is_not_json_gets_415_and_a_huge_one_413()
    {
        using var notJson = await Host.Http.PutAsync("/api/tenants/tenant-a/cloud-api/credentials", new StringContent("phone_number_id=1", Encoding.UTF8, "text/plain"));
        using var huge = await PutAsync("tenant-a", "{\"access_token\":\"" + new string('a', 20_000) + "\"}");

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, notJson.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
    }

    [Fact]
    public async Task Credentials_set_through_the_library_are_read_back_without_the_api()
    {
        var tenant = TenantId.Parse("tenant-lib");
        await Host.Credentials.SetAsync(tenant, new CloudApiCredentials(Phone, Token, "102290129340398"));

        var read = await Host.Credentials.GetAsync(tenant);

        Assert.NotNull(read);
        Assert.Equal(Phone, read.PhoneNumberId);
        Assert.Equal(Token, read.AccessToken);
        Assert.Equal("102290129340398", read.BusinessAccountId);
        Assert.Null(await Host.Credentials.GetAsync(TenantId.Parse("nobody")));
    }

    private Task<HttpResponseMessage> PutAsync(string businessId, string json) =>
        Host.Http.PutAsync("/api/tenants/" + businessId + "/cloud-api/credentials", new StringContent(json, Encoding.UTF8, "application/json"));
}
