using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Security;
using MultiTenant.AspNetCore.Tests.Infrastructure;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>The API key scheme through the real pipeline: 401 without a valid key, 403 on another tenant, admin everywhere.</summary>
public sealed class ApiSecurityTests
{
    [Fact]
    public async Task Every_api_endpoint_answers_401_with_WWW_Authenticate_without_a_valid_key_and_health_stays_anonymous()
    {
        await using var app = await TestApp.StartAsync();
        var routes = ApiRoutes(app).ToArray();
        Assert.Contains(routes, r => r.Path.EndsWith("/keys", StringComparison.Ordinal));

        foreach (var (method, path) in routes)
        {
            foreach (var key in new[] { null, "Bearer wrong", "Basic abc" })
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = TestApp.Body("{}") };
                if (key is not null)
                {
                    request.Headers.TryAddWithoutValidation("Authorization", key);
                }

                using var response = await app.Anonymous.SendAsync(request);
                await Responses.AssertProblemAsync(response, 401);
                Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
            }
        }

        foreach (string path in new[] { "/health", "/ready", "/livez", "/metrics" })
        {
            using var response = await app.Anonymous.GetAsync(path);
            Assert.NotEqual(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    [Fact]
    public async Task A_tenant_key_acts_for_its_own_tenant_only_with_either_header_and_stops_working_once_revoked()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("t1");
        await app.StartConnectedAsync("t2");

        using var created = await app.Http.PostAsync("/api/tenants/t1/keys", null);
        using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(created, 201));
        string key = json.RootElement.GetProperty("key").GetString()!;
        string id = json.RootElement.GetProperty("id").GetString()!;
        Assert.StartsWith("wt_", key, StringComparison.Ordinal);
        Assert.Equal("t1", json.RootElement.GetProperty("business_id").GetString());
        Assert.Equal(TestApp.NowText, json.RootElement.GetProperty("created_at").GetString());

        using var bearer = app.App.GetTestClient();
        bearer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var header = app.App.GetTestClient();
        header.DefaultRequestHeaders.Add(TenantApiAuthentication.ApiKeyHeader, key);

        foreach (var client in new[] { bearer, header })
        {
            using (var own = await client.GetAsync("/api/tenants/t1"))
            {
                await Responses.AssertJsonAsync(own, 200);
            }

            using (var other = await client.GetAsync("/api/tenants/t2"))
            {
                await Responses.AssertProblemAsync(other, 403);
            }

            using (var send = await client.PostAsync("/api/tenants/t2/messages", TestApp.Body("""{"to":"15551234567","text":"hi"}""")))
            {
                await Responses.AssertProblemAsync(send, 403);
            }

            using (var start = await client.PostAsync("/api/tenants", TestApp.Body("""{"business_id":"t3"}""")))
            {
                await Responses.AssertProblemAsync(start, 403);
            }

            using (var createKey = await client.PostAsync("/api/tenants/t1/keys", null))
            {
                await Responses.AssertProblemAsync(createKey, 403);
            }

            using var list = await client.GetAsync("/api/tenants");
            using var listed = JsonDocument.Parse(await Responses.AssertJsonAsync(list, 200));
            Assert.Equal(["t1"], listed.RootElement.EnumerateArray().Select(e => e.GetProperty("business_id").GetString()));
        }

        using (var keys = await bearer.GetAsync("/api/tenants/t1/keys"))
        {
            string body = await Responses.AssertJsonAsync(keys, 200);
            Assert.Contains(id, body, StringComparison.Ordinal);
            Assert.DoesNotContain(key, body, StringComparison.Ordinal);
        }

        using (var revoke = await app.Http.DeleteAsync($"/api/tenants/t1/keys/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        }

        using (var revoked = await bearer.GetAsync("/api/tenants/t1"))
        {
            await Responses.AssertProblemAsync(revoked, 401);
        }

        using var again = await app.Http.DeleteAsync($"/api/tenants/t1/keys/{id}");
        await Responses.AssertProblemAsync(again, 404);
    }

    [Fact]
    public async Task An_endpoint_contributed_to_the_group_is_protected_by_the_same_call()
    {
        await using var app = await TestApp.StartAsync(
            static b => b.Services.AddSingleton<ITenantApiEndpointContributor>(new EchoContributor()));

        using var anonymous = await app.Anonymous.GetAsync("/api/tenants/t1/echo");
        await Responses.AssertProblemAsync(anonymous, 401);
        using var admin = await app.Http.GetAsync("/api/tenants/t1/echo");
        Assert.Equal("t1", await admin.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_contributed_endpoint_gets_the_api_conventions_for_failures_and_bad_route_ids()
    {
        await using var app = await TestApp.StartAsync(
            static b => b.Services.AddSingleton<ITenantApiEndpointContributor>(new ConventionsContributor()));

        using var boom = await app.Http.GetAsync("/api/tenants/t1/boom");
        using var badId = await app.Http.GetAsync("/api/tenants/-bad/typed");
        using var good = await app.Http.GetAsync("/api/tenants/t1/typed");

        Assert.Contains("failed to process the request", await Responses.AssertProblemAsync(boom, 500), StringComparison.Ordinal);
        Assert.StartsWith("The business id must", await Responses.AssertProblemAsync(badId, 400), StringComparison.Ordinal);
        Assert.Equal("t1", await good.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task MapTenantApi_without_AddTenantApi_refuses_to_map_an_open_api()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddWhatsAppTenants().UseClientFactory(new TestClientFactory());
        await using var app = builder.Build();

        var error = Assert.Throws<InvalidOperationException>(() => app.MapTenantApi());
        Assert.Contains("AddTenantApi()", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Every endpoint under <c>/api/</c> from the app's endpoint data source, with a sample route.</summary>
    private static IEnumerable<(string Method, string Path)> ApiRoutes(TestApp app)
    {
        var sources = app.App.Services.GetRequiredService<EndpointDataSource>();
        foreach (var endpoint in sources.Endpoints.OfType<RouteEndpoint>())
        {
            string pattern = endpoint.RoutePattern.RawText ?? string.Empty;
            if (!pattern.StartsWith("/api/", StringComparison.Ordinal))
            {
                continue;
            }

            string path = pattern.Replace("{business_id}", "t1", StringComparison.Ordinal)
                .Replace("{id}", Guid.NewGuid().ToString("D"), StringComparison.Ordinal);
            Assert.DoesNotContain("{", path, StringComparison.Ordinal);
            foreach (string method in endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
            {
                yield return (method, path);
            }
        }
    }

    private sealed class ConventionsContributor : ITenantApiEndpointContributor
    {
        public void MapEndpoints(RouteGroupBuilder tenants)
        {
            tenants.MapGet("/{business_id}/boom", static string () => throw new InvalidOperationException("secret internals"));
            tenants.MapGet("/{business_id}/typed", static ([FromRoute(Name = "business_id")] TenantId tenant) => tenant.Value);
        }
    }

    private sealed class EchoContributor : ITenantApiEndpointContributor
    {
        public void MapEndpoints(RouteGroupBuilder tenants) =>
            tenants.MapGet("/{business_id}/echo", static (HttpContext c) => c.Request.RouteValues["business_id"] as string);
    }
}
