using System.Globalization;
using System.Net;
using MultiTenant.PostgreSql.Tests.Infrastructure;

namespace MultiTenant.Deployment.Tests.Infrastructure;

/// <summary>
/// Starts the published sample the way the image and the StatefulSet start it: the runtime stage's ENTRYPOINT in its WORKDIR (the
/// publish folder), as its USER, with the image's ENV overlaid by the StatefulSet container's env for its first pod (HOST_ID from the
/// pod name, the secrets given), plus the test's overrides (a free HTTP_PORT, since the tests share the machine).
/// </summary>
public static class Container
{
    public static Dictionary<string, string> Environment(IReadOnlyDictionary<string, string> secrets, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var environment = new Dictionary<string, string>(Dockerfile.Load().Runtime.Environment(), StringComparer.Ordinal);
        foreach (var (name, value) in Kubernetes.Load().ResolveEnvironment(secrets))
        {
            environment[name] = value;
        }

        environment["HTTP_PORT"] = SampleProcess.FreePort().ToString(CultureInfo.InvariantCulture);
        foreach (var (name, value) in overrides ?? new Dictionary<string, string>())
        {
            environment[name] = value;
        }

        return environment;
    }

    public static SampleProcess Start(PublishedSample sample, IReadOnlyDictionary<string, string> environment)
    {
        var runtime = Dockerfile.Load().Runtime;
        return SampleProcess.Start(runtime.Single("ENTRYPOINT").ExecForm(), sample.Directory, environment, User(runtime));
    }

    /// <summary>Runs the image's HEALTHCHECK command once, as the image's user with the container's environment; its exit code.</summary>
    public static async Task<int> HealthCheckAsync(PublishedSample sample, IReadOnlyDictionary<string, string> environment)
    {
        var runtime = Dockerfile.Load().Runtime;
        string[] command = runtime.Single("HEALTHCHECK").ExecForm(after: "CMD");
        await using var check = SampleProcess.Start(command, sample.Directory, environment, User(runtime));
        await check.WaitForExitAsync(TimeSpan.FromSeconds(10));
        return check.ExitCode;
    }

    /// <summary>Polls <paramref name="path"/> until it answers <paramref name="expected"/>; fails early with its output if the host exits.</summary>
    public static async Task<HttpResponseMessage> UntilStatusAsync(HttpClient http, SampleProcess host, string path, HttpStatusCode expected, TimeSpan limit)
    {
        HttpStatusCode last = default;
        await Eventually.UntilAsync(
            async () =>
            {
                Assert.False(host.HasExited, $"The host exited with {(host.HasExited ? host.ExitCode : 0)} while waiting for {path}:{System.Environment.NewLine}{host.OutputTail()}");
                try
                {
                    using var response = await http.GetAsync(host.Url(path));
                    last = response.StatusCode;
                    return last == expected;
                }
                catch (HttpRequestException)
                {
                    return false; // not listening yet
                }
                catch (TaskCanceledException)
                {
                    return false; // the client's timeout: not answering yet
                }
            },
            $"{path} answers {(int)expected} (last: {(int)last})",
            limit);
        return await http.GetAsync(host.Url(path));
    }

    private static string User(Dockerfile.Stage runtime) => Assert.Single(runtime.All("USER")).Arguments;
}
