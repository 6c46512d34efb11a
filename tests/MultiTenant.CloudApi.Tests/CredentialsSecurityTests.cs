using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MultiTenant.CloudApi.Tests.Infrastructure;

namespace MultiTenant.CloudApi.Tests;

/// <summary>The credentials endpoints come with MapTenantApi() and carry its API key protection: no separate mapping can leave them open.</summary>
public sealed class CredentialsSecurityTests : GraphAndHostTest
{
    private const string Body = """{"phone_number_id":"106540352242922","access_token":"EAAGsecret","waba_id":"102290129340398"}""";

    [Fact]
    public async Task Credentials_need_the_admin_key_or_the_tenants_own_key()
    {
        using var anonymous = new HttpClient { BaseAddress = Host.Http.BaseAddress };
        foreach (var method in new[] { HttpMethod.Put, HttpMethod.Get, HttpMethod.Delete })
        {
            using var response = await anonymous.SendAsync(Request(method, "tenant-a"));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }

        using var created = await Host.Http.PostAsync("/api/tenants/tenant-b/keys", null);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var json = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        using var tenantB = new HttpClient { BaseAddress = Host.Http.BaseAddress };
        tenantB.DefaultRequestHeaders.Add("X-Api-Key", json.RootElement.GetProperty("key").GetString());

        using (var other = await tenantB.SendAsync(Request(HttpMethod.Put, "tenant-a")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
            Assert.Equal("application/problem+json", other.Content.Headers.ContentType?.MediaType);
        }

        using (var own = await tenantB.SendAsync(Request(HttpMethod.Put, "tenant-b")))
        {
            Assert.Equal(HttpStatusCode.NoContent, own.StatusCode);
        }

        using var admin = await Host.Http.SendAsync(Request(HttpMethod.Get, "tenant-b"));
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
    }

    private static HttpRequestMessage Request(HttpMethod method, string tenant)
    {
        var request = new HttpRequestMessage(method, $"/api/tenants/{tenant}/cloud-api/credentials");
        if (method == HttpMethod.Put)
        {
            request.Content = new StringContent(Body, Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        return request;
    }
}
