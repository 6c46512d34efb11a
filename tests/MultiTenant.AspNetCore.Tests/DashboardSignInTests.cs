using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.Clients;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>
/// The dashboard's browser sign-in (issue 13) through the real pipeline: a browser-like client with a cookie jar and no API key
/// header signs in with the admin key or a tenant key; wrong keys, forged POSTs, revoked keys and cookie-only API calls are refused.
/// </summary>
public sealed class DashboardSignInTests
{
    private static Task<TestApp> StartAsync() => TestApp.StartAsync(map: static a =>
    {
        a.MapTenantApi();
        a.MapTenantDashboard("/dashboard");
    });

    private static async Task<string> CreateKeyAsync(TestApp app, string tenant)
    {
        using var created = await app.Http.PostAsync($"/api/tenants/{tenant}/keys", null);
        using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(created, 201));
        return json.RootElement.GetProperty("key").GetString()!;
    }

    private static async Task<HttpResponseMessage> PostActionAsync(BrowserClient browser, string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (token is not null)
        {
            request.Headers.Add("RequestVerificationToken", token);
        }

        return await browser.Http.SendAsync(request);
    }

    [Fact]
    public async Task The_admin_key_signs_a_browser_in_with_an_HttpOnly_SameSite_Strict_cookie_and_the_page_lists_every_tenant()
    {
        await using var app = await StartAsync();
        await app.StartConnectedAsync("tenant1");
        await app.StartConnectedAsync("tenant2");
        using var browser = new BrowserClient(app);

        using var signIn = await browser.SignInAsync(TestApp.AdminKey);

        Assert.Equal(HttpStatusCode.SeeOther, signIn.StatusCode);
        Assert.Equal("/dashboard/", signIn.Headers.Location?.OriginalString);
        string setCookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"), c => c.StartsWith("WhatsAppTenants.Dashboard=", StringComparison.Ordinal));
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", setCookie, StringComparison.OrdinalIgnoreCase); // plain HTTP here; see the HTTPS test
        Assert.DoesNotContain(TestApp.AdminKey, setCookie, StringComparison.Ordinal); // a Data Protection ticket, not the key

        string html = await browser.Http.GetStringAsync("/dashboard/");
        Assert.Contains("<tr data-id=\"tenant1\" class=\"connected\">", html, StringComparison.Ordinal);
        Assert.Contains("<tr data-id=\"tenant2\" class=\"connected\">", html, StringComparison.Ordinal);
        Assert.Contains("<span id=\"who\">admin</span>", html, StringComparison.Ordinal);
        Assert.Contains("id=\"signout\"", html, StringComparison.Ordinal);

        // Signed in already: the form sends the browser on to the page.
        using var again = await browser.Http.GetAsync("/dashboard/signin");
        Assert.Equal(HttpStatusCode.Redirect, again.StatusCode);

        // The button's POST with the page's token acts; the sign-out form signs out, and the page then sends back to the form.
        using var stop = await PostActionAsync(browser, "/dashboard/tenants/tenant1/stop", BrowserClient.Token(html));
        Assert.Equal(HttpStatusCode.OK, stop.StatusCode);
        Assert.Equal(TenantState.Stopped, (await app.Coordinator.GetStatusAsync(TenantId.Parse("tenant1")))!.State);
        using var signOut = await browser.Http.PostAsync("/dashboard/signout", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = BrowserClient.Token(html),
        }));
        Assert.Equal(HttpStatusCode.SeeOther, signOut.StatusCode);
        Assert.Null(browser.DashboardCookie);
        using var after = await browser.Http.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
    }

    [Fact]
    public async Task Over_HTTPS_the_cookie_is_Secure()
    {
        await using var app = await StartAsync();
        using var browser = new BrowserClient(app, "https://localhost");

        using var signIn = await browser.SignInAsync(TestApp.AdminKey);

        Assert.Equal(HttpStatusCode.SeeOther, signIn.StatusCode);
        Assert.Contains(signIn.Headers.GetValues("Set-Cookie"), c => c.StartsWith("WhatsAppTenants.Dashboard=", StringComparison.Ordinal)
            && c.Contains("; secure", StringComparison.OrdinalIgnoreCase));
    }

    [Theory]
    [InlineData("wt_not-a-key")]
    [InlineData("")]
    public async Task A_wrong_key_shows_the_form_again_with_400_and_sets_no_cookie(string key)
    {
        await using var app = await StartAsync();
        using var browser = new BrowserClient(app);

        using var signIn = await browser.SignInAsync(key);

        Assert.Equal(HttpStatusCode.BadRequest, signIn.StatusCode);
        Assert.Contains("The API key is not valid.", await signIn.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Null(browser.DashboardCookie);
        using var page = await browser.Http.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
    }

    [Fact]
    public async Task A_sign_in_without_the_forms_anti_forgery_token_is_refused_even_with_the_right_key()
    {
        await using var app = await StartAsync();
        using var browser = new BrowserClient(app);

        using var signIn = await browser.Http.PostAsync("/dashboard/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["api_key"] = TestApp.AdminKey,
        }));

        Assert.Equal(HttpStatusCode.BadRequest, signIn.StatusCode);
        Assert.Null(browser.DashboardCookie);
    }

    [Fact]
    public async Task A_tenant_key_sees_and_acts_on_its_own_tenant_only_on_the_page_in_the_event_stream_and_with_the_buttons()
    {
        await using var app = await StartAsync();
        await app.StartConnectedAsync("tenant1");
        await app.StartConnectedAsync("tenant2");
        string key = await CreateKeyAsync(app, "tenant1");
        using var browser = new BrowserClient(app);

        using var signIn = await browser.SignInAsync(key);
        Assert.Equal(HttpStatusCode.SeeOther, signIn.StatusCode);

        string html = await browser.Http.GetStringAsync("/dashboard/");
        Assert.Contains("<tr data-id=\"tenant1\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("tenant2", html, StringComparison.Ordinal);
        Assert.Contains("<span id=\"who\">tenant key of tenant1</span>", html, StringComparison.Ordinal);
        Assert.Contains("<td class=\"tenants\">1</td>", html, StringComparison.Ordinal); // the host summary counts its own tenant only
        string token = BrowserClient.Token(html);

        using var events = await browser.Http.GetAsync("/dashboard/events", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await events.Content.ReadAsStreamAsync());
        Assert.Equal(": live", await reader.ReadLineAsync().WithTimeout());
        Assert.Equal(string.Empty, await reader.ReadLineAsync().WithTimeout());

        // Its traffic summary covers its own tenant only (no host-wide tenant counts), and rows it did not ask for are not sent.
        Assert.Equal("event: traffic", await reader.ReadLineAsync().WithTimeout());
        Assert.Equal("""data: {"host":"test-host","queue_depth":0,"messages_in":0,"messages_out":0,"rows":[]}""", await reader.ReadLineAsync().WithTimeout());
        Assert.Equal(string.Empty, await reader.ReadLineAsync().WithTimeout());

        using var other = await PostActionAsync(browser, "/dashboard/tenants/tenant2/stop", token);
        await Responses.AssertProblemAsync(other, 403);
        Assert.Equal(TenantState.Connected, (await app.Coordinator.GetStatusAsync(TenantId.Parse("tenant2")))!.State);

        // tenant2's change (through the API) is not streamed to this browser; its own tenant's is, and is the next event it reads.
        using (var stopOther = await app.Http.DeleteAsync("/api/tenants/tenant2"))
        {
            Assert.Equal(HttpStatusCode.OK, stopOther.StatusCode);
        }

        using var own = await PostActionAsync(browser, "/dashboard/tenants/tenant1/stop", token);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal("event: status", await reader.ReadLineAsync().WithTimeout());
        Assert.StartsWith("""data: {"business_id":"tenant1","status":"stopped" """.TrimEnd(), await reader.ReadLineAsync().WithTimeout(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_revoked_key_signs_the_browser_out_at_its_next_request()
    {
        await using var app = await StartAsync();
        await app.StartConnectedAsync("tenant1");
        string key = await CreateKeyAsync(app, "tenant1");
        using var browser = new BrowserClient(app);
        using (var signIn = await browser.SignInAsync(key))
        {
            Assert.Equal(HttpStatusCode.SeeOther, signIn.StatusCode);
        }

        string html = await browser.Http.GetStringAsync("/dashboard/");
        using (var list = await app.Http.GetAsync("/api/tenants/tenant1/keys"))
        {
            using var keys = JsonDocument.Parse(await Responses.AssertJsonAsync(list, 200));
            string id = keys.RootElement[0].GetProperty("id").GetString()!;
            using var revoke = await app.Http.DeleteAsync($"/api/tenants/tenant1/keys/{id}");
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        }

        using var stop = await PostActionAsync(browser, "/dashboard/tenants/tenant1/stop", BrowserClient.Token(html));
        await Responses.AssertProblemAsync(stop, 401);
        Assert.Null(browser.DashboardCookie); // the cookie was deleted
        using var page = await browser.Http.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Equal(TenantState.Connected, (await app.Coordinator.GetStatusAsync(TenantId.Parse("tenant1")))!.State);
    }

    [Fact]
    public async Task A_signed_in_browsers_POST_without_the_anti_forgery_header_is_refused_and_does_nothing()
    {
        await using var app = await StartAsync();
        await app.StartConnectedAsync("tenant1");
        using var browser = new BrowserClient(app);
        using (var signIn = await browser.SignInAsync(TestApp.AdminKey))
        {
            Assert.Equal(HttpStatusCode.SeeOther, signIn.StatusCode);
        }

        _ = await browser.Http.GetStringAsync("/dashboard/");

        using var forged = await PostActionAsync(browser, "/dashboard/tenants/tenant1/stop", token: null);
        await Responses.AssertProblemAsync(forged, 400);
        using var wrong = await PostActionAsync(browser, "/dashboard/tenants/tenant1/stop", token: "CfDJ8-not-a-token");
        await Responses.AssertProblemAsync(wrong, 400);
        using var signOut = await browser.Http.PostAsync("/dashboard/signout", null);
        await Responses.AssertProblemAsync(signOut, 400);

        Assert.Equal(TenantState.Connected, (await app.Coordinator.GetStatusAsync(TenantId.Parse("tenant1")))!.State);
        Assert.NotNull(browser.DashboardCookie);
    }

    [Fact]
    public async Task The_tenant_API_never_reads_the_dashboard_cookie()
    {
        await using var app = await StartAsync();
        using var browser = new BrowserClient(app);
        using (var signIn = await browser.SignInAsync(TestApp.AdminKey))
        {
            Assert.Equal(HttpStatusCode.SeeOther, signIn.StatusCode);
        }

        using var list = await browser.Http.GetAsync("/api/tenants");
        await Responses.AssertProblemAsync(list, 401);
        using var start = await browser.Http.PostAsync("/api/tenants", TestApp.Body("""{"business_id":"tenant1"}"""));
        await Responses.AssertProblemAsync(start, 401);
    }
}
