namespace MultiTenant.Dashboard.Tests.Infrastructure;

/// <summary>
/// A test that needs Debian's <c>chromium</c> (<see cref="DashboardBrowser.ExecutablePath"/>): skipped, with the reason, where it is
/// not installed, except under <c>CI=true</c>, where the test runs and fails saying so (CI must never pass without the browser test).
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (!File.Exists(DashboardBrowser.ExecutablePath) && !DashboardBrowser.UnderCi)
        {
            Skip = $"Debian's chromium is not installed ({DashboardBrowser.ExecutablePath}): apt-get install -y chromium. Under CI=true this test fails instead.";
        }
    }
}
