using MultiTenant.AspNetCore.Tests.Infrastructure;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>
/// Kinds over <c>POST /api/tenants/{id}/messages</c> with a backend that declares none (the test clients, like the sample's simulator):
/// text only, every other kind a 422 problem before the client is called. The kinds themselves, over the Cloud API client and the fake
/// Graph API, are in MultiTenant.CloudApi.Tests (SendKindsApiTests).
/// </summary>
public sealed class MessageKindsApiTests
{
    [Theory]
    [InlineData("""{"to":"15551234567","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}""", "template")]
    [InlineData("""{"to":"15551234567","type":"image","image":{"link":"https://example.com/a.png"}}""", "image")]
    [InlineData("""{"to":"15551234567","type":"reaction","reaction":{"message_id":"wamid.1","emoji":"x"}}""", "reaction")]
    public async Task A_kind_the_tenant_s_backend_cannot_send_is_422_kind_not_supported_and_the_client_is_not_called(string body, string kind)
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");

        using var response = await app.PostJsonAsync("/api/tenants/tenant1/messages", body);

        string detail = await Responses.AssertProblemAsync(response, 422);
        Assert.Equal($"The client of tenant 'tenant1' cannot send '{kind}' messages.", detail);
        Assert.Equal("kind_not_supported", await Responses.ErrorCodeAsync(response));
        Assert.Empty(app.Clients.Client("tenant1").Sent);
    }

    [Fact]
    public async Task Both_text_forms_and_a_reply_reach_a_text_only_client_as_text()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");

        using var shortForm = await app.PostJsonAsync("/api/tenants/tenant1/messages", """{"to":"15551234567","text":"hi"}""");
        using var longForm = await app.PostJsonAsync("/api/tenants/tenant1/messages",
            """{"messaging_product":"whatsapp","recipient_type":"individual","to":"15551234568","context":{"message_id":"wamid.9"},"type":"text","text":{"body":"hello","preview_url":true}}""");

        await Responses.AssertJsonAsync(shortForm, 202);
        await Responses.AssertJsonAsync(longForm, 202);
        var sent = app.Clients.Client("tenant1").Sent.ToArray();
        Assert.Equal(2, sent.Length);
        Assert.Equal(new Clients.OutboundMessage("15551234567", "hi"), sent[0]);
        Assert.Equal("hello", sent[1].Text);
        Assert.Equal("wamid.9", sent[1].ReplyToMessageId);
        Assert.True(((Clients.TextContent)sent[1].Content).PreviewUrl);
    }

    [Fact]
    public async Task A_refused_kind_frees_its_idempotency_key()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        const string Image = """{"to":"15551234567","type":"image","image":{"id":"1"}}""";

        for (int i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/tenants/tenant1/messages") { Content = TestApp.Body(Image) };
            request.Headers.Add("Idempotency-Key", "k1");
            using var response = await app.Http.SendAsync(request);
            await Responses.AssertProblemAsync(response, 422); // not 409 in_progress, not a replay: the key was released
        }

        Assert.Empty(app.Clients.Client("tenant1").Sent);
    }
}
