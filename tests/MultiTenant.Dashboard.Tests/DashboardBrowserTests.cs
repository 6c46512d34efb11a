using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using MultiTenant.Dashboard.Tests.Infrastructure;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace MultiTenant.Dashboard.Tests;

/// <summary>
/// The dashboard in a real headless browser (issue 13): Debian's chromium signs in on the sample server's form, sees a tenant started
/// through the API appear and turn connected without a reload, stops it with the button, sees message counts per tenant and the
/// host's summary (tenants, connected, queue depth, messages) move without a reload, and leaves screenshots of 10 tenants, a tenant in
/// error and a tenant pairing (TestResults/screenshots/*.png, paths in the test output).
/// </summary>
[Collection(DashboardCollection.Name)]
public sealed class DashboardBrowserTests(SampleHost sample, DashboardBrowser browser, ITestOutputHelper output)
{
    private static readonly LocatorAssertionsToHaveClassOptions Within = new() { Timeout = 30_000 };
    private static readonly Regex Positive = new("^[1-9][0-9]*$");
    private static readonly Regex Count = new("^[0-9]+$");

    private async Task<IPage> SignedInPageAsync(string path = "/")
    {
        var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = sample.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1400, Height = 900 },
        });
        var page = await context.NewPageAsync();
        await page.GotoAsync(path);
        await Expect(page).ToHaveURLAsync(new Uri(sample.BaseAddress, "/signin").ToString()); // an anonymous browser lands on the form
        await page.FillAsync("#api_key", SampleHost.AdminKey);
        await page.ClickAsync("#signin button[type=submit]");
        await Expect(page.Locator("#who")).ToHaveTextAsync("admin");
        if (path != "/")
        {
            await page.GotoAsync(path);
        }

        await Expect(page.Locator("#live")).ToHaveTextAsync("live", new() { Timeout = 30_000 }); // the event stream is open
        return page;
    }

    private async Task ScreenshotAsync(IPage page, string name)
    {
        Directory.CreateDirectory(DashboardBrowser.ScreenshotDirectory);
        string path = Path.Combine(DashboardBrowser.ScreenshotDirectory, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        Assert.True(new FileInfo(path).Length > 1_000, $"{path} is (nearly) empty");
        output.WriteLine($"screenshot: {path}");
    }

    [BrowserFact]
    public async Task After_sign_in_a_tenant_started_through_the_API_appears_turns_connected_without_a_reload_and_the_stop_button_stops_it()
    {
        var page = await SignedInPageAsync("/?q=live");
        await page.EvaluateAsync("() => { window.loadedOnce = 'yes'; }"); // gone if the page reloads

        await sample.StartAsync("live1");

        var row = page.Locator("tr[data-id=\"live1\"]");
        await Expect(row).ToHaveClassAsync("connected", Within);
        Assert.Equal("yes", await page.EvaluateAsync<string?>("() => window.loadedOnce"));

        await row.Locator("button[data-action=stop]").ClickAsync();

        await Expect(row).ToHaveClassAsync("stopped", Within);
        Assert.Equal("stopped", await sample.StatusAsync("live1"));
        Assert.Equal("yes", await page.EvaluateAsync<string?>("() => window.loadedOnce"));
    }

    [BrowserFact]
    public async Task Screenshots_of_10_tenants_a_tenant_in_error_and_a_tenant_pairing_with_its_simulated_QR_code()
    {
        for (int i = 1; i <= 10; i++)
        {
            await sample.StartAsync($"shop{i:D2}");
        }

        await sample.StartAsync(SampleHost.UnpairedTenant);
        await sample.StartAsync(SampleHost.PairingTenant);

        var page = await SignedInPageAsync("/?q=shop");
        var connected = page.Locator("#tenants tbody tr.connected");
        await Expect(connected).ToHaveCountAsync(10, new() { Timeout = 30_000 });
        await page.EvaluateAsync("() => { window.loadedOnce = 'yes'; }"); // gone if the page reloads
        await sample.SendAsync("shop01");

        // Message counts per row and the host's summary (tenants, connected, queue depth, messages) move with the traffic event.
        var shop01 = page.Locator("tr[data-id=\"shop01\"]");
        await Expect(shop01.Locator(".in")).ToHaveTextAsync(Positive, new() { Timeout = 30_000 });
        await Expect(shop01.Locator(".out")).ToHaveTextAsync("1", new() { Timeout = 30_000 });
        var host = page.Locator("#hosts tbody tr").First;
        await Expect(host.Locator(".in")).ToHaveTextAsync(Positive, new() { Timeout = 30_000 });
        Assert.True(int.Parse(await host.Locator(".connected").InnerTextAsync(), CultureInfo.InvariantCulture) >= 10);
        Assert.True(int.Parse(await host.Locator(".tenants").InnerTextAsync(), CultureInfo.InvariantCulture) >= 12);
        await Expect(host.Locator(".queue")).ToHaveTextAsync(Count);
        Assert.True(
            long.Parse(await host.Locator(".out").InnerTextAsync(), CultureInfo.InvariantCulture) >= 1,
            "the host's summary counts the message sent through shop01");
        Assert.Equal("yes", await page.EvaluateAsync<string?>("() => window.loadedOnce"));
        await ScreenshotAsync(page, "dashboard-10-tenants");

        await page.GotoAsync("/?q=" + SampleHost.UnpairedTenant);
        var broken = page.Locator($"tr[data-id=\"{SampleHost.UnpairedTenant}\"]");
        await Expect(broken).ToHaveClassAsync("error", Within);
        await Expect(broken.Locator(".error")).Not.ToBeEmptyAsync();
        await ScreenshotAsync(page, "dashboard-error");

        await page.GotoAsync("/?q=" + SampleHost.PairingTenant);
        var qr = page.Locator($"tr[data-id=\"{SampleHost.PairingTenant}\"] code.qr");
        await Expect(qr).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Expect(qr).ToContainTextAsync("2@");
        await ScreenshotAsync(page, "dashboard-pairing");
    }
}
