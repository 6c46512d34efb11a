using Microsoft.Playwright;

namespace MultiTenant.Dashboard.Tests.Infrastructure;

/// <summary>
/// Headless Debian chromium driven by Playwright for .NET, launched from its executable path: Playwright's own browser download is
/// never used (it cannot run on these machines, and would hide a missing install step).
/// </summary>
public sealed class DashboardBrowser : IAsyncLifetime
{
    /// <summary><c>/usr/bin/chromium</c>, Debian's package (<c>CHROMIUM_PATH</c> overrides it, to check the missing-browser paths).</summary>
    public static string ExecutablePath { get; } = Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public static bool UnderCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The browser. Without chromium (reached only under CI=true, as <see cref="BrowserFactAttribute"/> skips elsewhere) it fails the test.</summary>
    public IBrowser Browser => _browser ?? throw new InvalidOperationException(
        $"Debian's chromium is not installed ({ExecutablePath}); .ci/run installs it with 'apt-get install -y chromium'.");

    /// <summary>Where the screenshots go: <c>tests/MultiTenant.Dashboard.Tests/TestResults/screenshots</c> (or <c>SCREENSHOT_DIR</c>).</summary>
    public static string ScreenshotDirectory { get; } = Environment.GetEnvironmentVariable("SCREENSHOT_DIR") is { Length: > 0 } dir
        ? dir
        : Path.Combine(SampleHost.RepositoryRoot, "tests", "MultiTenant.Dashboard.Tests", "TestResults", "screenshots");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            return; // every test that needs it fails (CI=true) or is skipped
        }

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox"],
        });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}
