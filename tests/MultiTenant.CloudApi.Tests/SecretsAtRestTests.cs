using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using MultiTenant.Storage;
using MultiTenant.Events;

namespace MultiTenant.CloudApi.Tests;

/// <summary>The access token is encrypted before it reaches the state store; legacy plain documents are read and re-encrypted.</summary>
public sealed class SecretsAtRestTests : GraphAndHostTest
{
    private const string Phone = "106540352242922";
    private const string Token = "EAAGsecret-at-rest-token-0123456789abcdef";

    [Fact]
    public async Task The_stored_document_holds_no_token_bytes_and_the_token_reads_back()
    {
        var tenant = await Host.AddTenantAsync(Graph, "tenant-a", Phone, Token);

        byte[] raw = (await Store(tenant).GetAsync("cloudapi", "credentials"))!;

        SecretScan.AssertAbsent(raw, Token, "the stored credentials");
        using var json = JsonDocument.Parse(raw);
        Assert.Equal(2, json.RootElement.GetProperty("version").GetInt32());
        Assert.False(json.RootElement.TryGetProperty("access_token", out _));
        Assert.Equal(Phone, json.RootElement.GetProperty("phone_number_id").GetString());
        Assert.True(json.RootElement.GetProperty("protected_secrets").GetString()!.Length > 40);
        Assert.Equal(Token, (await Host.Credentials.GetAsync(tenant))!.AccessToken);
        await Host.StartConnectedAsync(tenant);
        Assert.Equal("Bearer " + Token, Graph.Probes[^1].Authorization);
    }

    [Fact]
    public async Task A_plain_document_written_by_an_earlier_version_is_read_and_rewritten_encrypted_when_the_tenant_starts()
    {
        var tenant = TenantId.Parse("tenant-legacy");
        Graph.AddNumber(Phone, Token);
        await Store(tenant).SetAsync("cloudapi", "credentials", Encoding.UTF8.GetBytes(
            $$"""{"version":1,"phone_number_id":"{{Phone}}","access_token":"{{Token}}","waba_id":"102290129340398","updated_at":"2025-01-02T03:04:05+00:00"}"""));

        Assert.Equal(Token, (await Host.Credentials.GetAsync(tenant))!.AccessToken);
        await Host.StartConnectedAsync(tenant);

        byte[] raw = (await Store(tenant).GetAsync("cloudapi", "credentials"))!;
        SecretScan.AssertAbsent(raw, Token, "the re-encrypted credentials");
        using var json = JsonDocument.Parse(raw);
        Assert.Equal(2, json.RootElement.GetProperty("version").GetInt32());
        Assert.Equal(new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero), json.RootElement.GetProperty("updated_at").GetDateTimeOffset());
        var read = (await Host.Credentials.GetAsync(tenant))!;
        Assert.Equal((Phone, Token, "102290129340398"), (read.PhoneNumberId, read.AccessToken, read.BusinessAccountId));
        Assert.Contains(Host.Logs.GetSnapshot(), r => r.Id.Id == Diagnostics.CloudApiEventIds.CredentialsEncrypted);
    }

    [Fact]
    public async Task Tampered_credentials_answer_a_readable_problem_and_stop_the_tenant_with_a_short_reason()
    {
        var tenant = await Host.AddTenantAsync(Graph, "tenant-t", Phone, Token);
        var store = Store(tenant);
        byte[] raw = (await store.GetAsync("cloudapi", "credentials"))!;
        var document = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(raw)!;
        byte[] secrets = document["protected_secrets"].GetBytesFromBase64();
        secrets[^3] ^= 0x10;
        document["protected_secrets"] = JsonSerializer.SerializeToElement(Convert.ToBase64String(secrets));
        await store.SetAsync("cloudapi", "credentials", JsonSerializer.SerializeToUtf8Bytes(document));

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => Host.Credentials.GetAsync(tenant).AsTask());
        using var get = await Host.Http.GetAsync("/api/tenants/tenant-t/cloud-api/credentials");
        await Host.Coordinator.StartAsync(tenant);
        await Host.Events.WaitForAsync<TenantFaultedEvent>(tenant);
        var status = (await Host.Coordinator.GetStatusAsync(tenant))!;

        Assert.Contains("cannot be decrypted", ex.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.InternalServerError, get.StatusCode);
        string body = await get.Content.ReadAsStringAsync();
        Assert.Contains("cannot be decrypted", body, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
        Assert.Equal(TenantState.Error, status.State);
        Assert.Contains("cannot be decrypted", status.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("CryptographicException", status.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Credentials_copied_to_another_tenant_cannot_be_read_there()
    {
        var owner = await Host.AddTenantAsync(Graph, "tenant-owner", Phone, Token);
        byte[] raw = (await Store(owner).GetAsync("cloudapi", "credentials"))!;
        var thief = TenantId.Parse("tenant-thief");
        await Store(thief).SetAsync("cloudapi", "credentials", raw);

        await Assert.ThrowsAsync<InvalidDataException>(() => Host.Credentials.GetAsync(thief).AsTask());
        Assert.Equal(Token, (await Host.Credentials.GetAsync(owner))!.AccessToken);
    }

    private ITenantStateStore Store(TenantId tenant) => Host.Services.GetRequiredService<ITenantStateStoreProvider>().GetStore(tenant);
}
