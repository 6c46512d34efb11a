using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Diagnostics;
using MultiTenant.AspNetCore.Security;
using MultiTenant.AspNetCore.Tests.Infrastructure;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>The API's rate limits through the real pipeline (UseRateLimiter, the API's policy): 429 + Retry-After per caller.</summary>
public sealed class RateLimitTests
{
    private const string AddressHeader = "X-Test-Remote-Address";

    [Fact]
    public async Task A_flood_from_one_key_is_answered_429_with_Retry_After_while_livez_and_another_key_still_get_200()
    {
        // Bound from configuration: WhatsAppTenants:Api:RateLimits.
        await using var app = await TestApp.StartAsync(b =>
        {
            b.Configuration["WhatsAppTenants:Api:RateLimits:TenantKey:PermitsPerSecond"] = "1";
            b.Configuration["WhatsAppTenants:Api:RateLimits:TenantKey:Burst"] = "3";
        });
        await app.StartConnectedAsync("t1");
        await app.StartConnectedAsync("t2");
        using var flooder = await TenantClientAsync(app, "t1");
        using var other = await TenantClientAsync(app, "t2");

        var clock = Stopwatch.StartNew();
        var codes = new List<HttpStatusCode>();
        HttpResponseMessage? rejected = null;
        for (int i = 0; i < 20; i++)
        {
            var response = await flooder.GetAsync("/api/tenants/t1");
            codes.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests && rejected is null)
            {
                rejected = response;
                continue;
            }

            response.Dispose();
        }

        double seconds = clock.Elapsed.TotalSeconds;
        Assert.All(codes.Take(3), c => Assert.Equal(HttpStatusCode.OK, c));
        Assert.NotNull(rejected);
        // The bucket refills one a second: at most that many more got through while the flood ran.
        Assert.InRange(codes.Count(c => c == HttpStatusCode.OK), 3, 3 + (int)Math.Ceiling(seconds));
        using (rejected)
        {
            await Responses.AssertProblemAsync(rejected, 429);
            Assert.Equal("rate_limited", await Responses.ErrorCodeAsync(rejected));
            var retryAfter = rejected.Headers.RetryAfter?.Delta;
            Assert.NotNull(retryAfter);
            Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
        }

        using (var livez = await flooder.GetAsync("/livez"))
        {
            Assert.Equal(HttpStatusCode.OK, livez.StatusCode);
        }

        using (var otherKey = await other.GetAsync("/api/tenants/t2"))
        {
            await Responses.AssertJsonAsync(otherKey, 200);
        }

        using (var admin = await app.Http.GetAsync("/api/tenants/t1"))
        {
            await Responses.AssertJsonAsync(admin, 200);
        }
    }

    [Fact]
    public async Task Requests_without_a_valid_key_are_limited_per_client_address_when_the_limiter_runs_before_authorization()
    {
        await using var app = await TestApp.StartAsync(
            b =>
            {
                // The API key scheme as the default one, so UseAuthentication() authenticates the key before the limiter.
                b.Services.AddAuthentication(TenantApiAuthentication.Scheme);
                b.Services.Configure<TenantApiRateLimitOptions>(o => o.Anonymous = new TenantApiRateLimit { PermitsPerSecond = 1, Burst = 2 });
            },
            map: a =>
            {
                a.Use((context, next) =>
                {
                    if (context.Request.Headers[AddressHeader] is [{ } address])
                    {
                        context.Connection.RemoteIpAddress = IPAddress.Parse(address);
                    }

                    return next(context);
                });
                a.UseAuthentication();
                a.UseRateLimiter();
                a.UseAuthorization();
                a.MapTenantApi();
                a.MapTenantHealthChecks();
            },
            useRateLimiter: false);

        var codes = new List<HttpStatusCode>();
        for (int i = 0; i < 10; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/tenants");
            request.Headers.Add(AddressHeader, "2001:db8:1:2::10");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "wrong-key-" + i);
            using var response = await app.Anonymous.SendAsync(request);
            codes.Add(response.StatusCode);
        }

        Assert.All(codes.Take(2), c => Assert.Equal(HttpStatusCode.Unauthorized, c));
        Assert.Contains(HttpStatusCode.TooManyRequests, codes);

        // The same /64 shares the bucket; another address does not, nor does a valid key from the same address.
        Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(app.Anonymous, "2001:db8:1:2::99"));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(app.Anonymous, "192.0.2.7"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(app.Http, "2001:db8:1:2::10"));
    }

    [Fact]
    public async Task Buckets_belong_to_the_authenticated_key_not_to_the_header_text_with_the_default_authentication_setup()
    {
        // AddTenantApi()'s own default (no AddAuthentication(scheme) by the host): the limiter still sees the authenticated key.
        await using var app = await TestApp.StartAsync(
            b =>
            {
                b.Services.Configure<TenantApiRateLimitOptions>(o =>
                {
                    o.Anonymous = new TenantApiRateLimit { PermitsPerSecond = 1, Burst = 2 };
                    o.TenantKey = new TenantApiRateLimit { PermitsPerSecond = 1, Burst = 4 };
                });
            },
            map: a =>
            {
                a.Use((context, next) =>
                {
                    context.Connection.RemoteIpAddress = IPAddress.Parse("192.0.2.50"); // every caller from one address
                    return next(context);
                });
                a.UseAuthentication();
                a.UseRateLimiter();
                a.UseAuthorization();
                a.MapTenantApi();
            },
            useRateLimiter: false);
        await app.StartConnectedAsync("t1");
        await app.StartConnectedAsync("t2");
        string key1 = await CreateKeyAsync(app, "t1");
        string key2 = await CreateKeyAsync(app, "t2");

        // Random invalid keys, in both header forms: each a new string, all in the one address bucket (burst 2).
        var clock = Stopwatch.StartNew();
        var invalid = new List<HttpStatusCode>();
        for (int i = 0; i < 12; i++)
        {
            invalid.Add(await GetAsync(app, "/api/tenants", bearer: i % 2 == 0 ? "wt_random" + i : null, apiKey: i % 2 == 1 ? "wt_random" + i : null));
        }

        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized], invalid.Take(2));
        // The bucket refills one a second: at most that many more got an answer while the flood ran.
        Assert.InRange(invalid.Count(static c => c != HttpStatusCode.TooManyRequests), 2, 2 + (int)Math.Ceiling(clock.Elapsed.TotalSeconds));

        // One valid key sent as Bearer and as X-Api-Key: one bucket (burst 4), not one per header text; the address bucket is not its.
        clock.Restart();
        var first = new List<HttpStatusCode>();
        for (int i = 0; i < 12; i++)
        {
            first.Add(await GetAsync(app, "/api/tenants/t1", bearer: i % 2 == 0 ? key1 : null, apiKey: i % 2 == 1 ? key1 : null));
        }

        Assert.All(first.Take(4), static c => Assert.Equal(HttpStatusCode.OK, c));
        Assert.InRange(first.Count(static c => c == HttpStatusCode.OK), 4, 4 + (int)Math.Ceiling(clock.Elapsed.TotalSeconds));
        Assert.All(first, static c => Assert.True(c is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, c.ToString()));

        // Another key from the same address has its own bucket.
        Assert.Equal(HttpStatusCode.OK, await GetAsync(app, "/api/tenants/t2", bearer: key2, apiKey: null));
    }

    [Fact]
    public async Task Without_UseRateLimiter_the_api_answers_500_problem_and_logs_once_what_to_add_while_health_still_answers()
    {
        await using var app = await TestApp.StartAsync(useRateLimiter: false);

        for (int i = 0; i < 2; i++)
        {
            using var response = await app.Http.GetAsync("/api/tenants");
            string detail = await Responses.AssertProblemAsync(response, 500);
            Assert.Contains("rate limiter", detail, StringComparison.Ordinal);
            Assert.Equal("server_misconfigured", await Responses.ErrorCodeAsync(response));
        }

        var logged = Assert.Single(app.Logs.GetSnapshot(), r => r.Id.Id == TenantApiEventIds.RateLimiterMissing);
        Assert.Contains("app.UseRateLimiter()", logged.Message, StringComparison.Ordinal);

        using var livez = await app.Anonymous.GetAsync("/livez");
        Assert.Equal(HttpStatusCode.OK, livez.StatusCode);
    }

    [Fact]
    public async Task With_rate_limits_disabled_the_api_needs_no_middleware()
    {
        await using var app = await TestApp.StartAsync(
            b => b.Configuration["WhatsAppTenants:Api:RateLimits:Enabled"] = "false",
            useRateLimiter: false);

        using var response = await app.Http.GetAsync("/api/tenants");
        await Responses.AssertJsonAsync(response, 200);
    }

    [Fact]
    public async Task An_out_of_range_limit_fails_MapTenantApi_with_the_option_named()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestApp.StartAsync(
            b => b.Services.Configure<TenantApiRateLimitOptions>(o => o.Admin.Burst = 0)));
        Assert.Contains("TenantApiRateLimitOptions.Admin", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("192.0.2.1", "192.0.2.1")]
    [InlineData("::ffff:192.0.2.1", "192.0.2.1")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")]
    public void Addresses_partition_IPv4_as_is_and_IPv6_by_its_64(string address, string partition) =>
        Assert.Equal(partition, TenantApiRateLimitPolicy.AddressPartition(IPAddress.Parse(address)));

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client, string address)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/tenants");
        request.Headers.Add(AddressHeader, address);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<HttpStatusCode> GetAsync(TestApp app, string path, string? bearer, string? apiKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (apiKey is not null)
        {
            request.Headers.Add(TenantApiAuthentication.ApiKeyHeader, apiKey);
        }

        using var response = await app.Anonymous.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<string> CreateKeyAsync(TestApp app, string tenant)
    {
        using var created = await app.Http.PostAsync($"/api/tenants/{tenant}/keys", null);
        using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(created, 201));
        return json.RootElement.GetProperty("key").GetString()!;
    }

    private static async Task<HttpClient> TenantClientAsync(TestApp app, string tenant)
    {
        using var created = await app.Http.PostAsync($"/api/tenants/{tenant}/keys", null);
        using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(created, 201));
        var client = app.App.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", json.RootElement.GetProperty("key").GetString());
        return client;
    }
}
