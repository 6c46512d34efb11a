using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.TestHost;

namespace MultiTenant.AspNetCore.Tests.Infrastructure;

/// <summary>
/// An HTTP client over the test server that behaves like a browser on the dashboard: keeps cookies (a <see cref="CookieContainer"/>,
/// honouring Secure, Path and deletions), sends no API key header, does not follow redirects, and can sign in through the form.
/// </summary>
internal sealed partial class BrowserClient : IDisposable
{
    private readonly Uri _origin;

    public BrowserClient(TestApp app, string origin = "http://localhost")
    {
        _origin = new Uri(origin);
        var server = app.App.GetTestServer();
        server.BaseAddress = _origin;
        Http = new HttpClient(new CookieHandler(Cookies, server.CreateHandler())) { BaseAddress = _origin };
    }

    public CookieContainer Cookies { get; } = new();

    public HttpClient Http { get; }

    /// <summary>The dashboard cookie, or null.</summary>
    public Cookie? DashboardCookie => Cookies.GetCookies(_origin).FirstOrDefault(c => c.Name == "WhatsAppTenants.Dashboard");

    /// <summary>Loads the sign-in form and posts <paramref name="key"/> with the form's anti-forgery token.</summary>
    public async Task<HttpResponseMessage> SignInAsync(string key, string dashboard = "/dashboard")
    {
        string form = await Http.GetStringAsync(dashboard + "/signin");
        var fields = new Dictionary<string, string> { ["api_key"] = key, [Field(form)] = Token(form) };
        return await Http.PostAsync(dashboard + "/signin", new FormUrlEncodedContent(fields));
    }

    /// <summary>The anti-forgery token a page or form carries (the page's <c>data-csrf</c>, or the form's hidden field).</summary>
    public static string Token(string html) =>
        WebUtility.HtmlDecode((CsrfAttribute().Match(html) is { Success: true } m ? m : HiddenField().Match(html)).Groups["v"].Value);

    private static string Field(string html) => HiddenField().Match(html).Groups["n"].Value;

    public void Dispose() => Http.Dispose();

    [GeneratedRegex("data-csrf=\"(?<v>[^\"]+)\"")]
    private static partial Regex CsrfAttribute();

    [GeneratedRegex("<input type=\"hidden\" name=\"(?<n>[^\"]+)\" value=\"(?<v>[^\"]+)\">")]
    private static partial Regex HiddenField();

    private sealed class CookieHandler(CookieContainer cookies, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var uri = request.RequestUri!;
            if (cookies.GetCookieHeader(uri) is { Length: > 0 } header)
            {
                request.Headers.Add("Cookie", header);
            }

            var response = await base.SendAsync(request, cancellationToken);
            if (response.Headers.TryGetValues("Set-Cookie", out var setCookies))
            {
                foreach (var setCookie in setCookies)
                {
                    cookies.SetCookies(uri, setCookie);
                }
            }

            return response;
        }
    }
}
