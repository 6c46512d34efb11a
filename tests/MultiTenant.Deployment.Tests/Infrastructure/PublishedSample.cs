using System.Diagnostics;
using MultiTenant.PostgreSql.Tests.Infrastructure;

namespace MultiTenant.Deployment.Tests.Infrastructure;

/// <summary>
/// The sample published once per test run exactly as the Dockerfile's build stage publishes it (its <c>RUN dotnet publish</c> line,
/// with the output folder moved to a temp folder), so the tests run what the image would contain. The folder is made readable to
/// everyone and owned by the test's user, as the image's <c>/app</c> is readable to its unprivileged user.
/// </summary>
public sealed class PublishedSample : IAsyncLifetime
{
    private static readonly TimeSpan PublishLimit = TimeSpan.FromMinutes(5);

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("mt-published-sample-").FullName;

    /// <summary>How long publishing took, for the test output.</summary>
    public TimeSpan PublishTime { get; private set; }

    public async Task InitializeAsync()
    {
        var dockerfile = Dockerfile.Load();
        var publish = Assert.Single(dockerfile.Stages.SelectMany(s => s.All("RUN")), run => run.Arguments.StartsWith("dotnet publish ", StringComparison.Ordinal));
        var arguments = publish.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToList();
        int output = arguments.IndexOf("-o");
        Assert.True(output >= 0 && output + 1 < arguments.Count, $"The Dockerfile's publish line names no output folder: {publish.Arguments}");
        arguments[output + 1] = Directory;

        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Repository.Root, // the build stage's WORKDIR holds the build context: the repository's root
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments.Append("-nodeReuse:false"))
        {
            start.ArgumentList.Add(argument);
        }

        // A child build must not join the MSBuild of the `dotnet test` that may have started this test run.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToArray())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        long started = Stopwatch.GetTimestamp();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not run dotnet publish.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(PublishLimit);
        PublishTime = Stopwatch.GetElapsedTime(started);
        Assert.True(
            process.ExitCode == 0,
            $"dotnet {string.Join(' ', arguments)} exited with {process.ExitCode}:{Environment.NewLine}{await stdout}{Environment.NewLine}{await stderr}");

        // The image's /app is readable (not writable) by its user; a temp folder is private to its creator.
        File.SetUnixFileMode(
            Directory,
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
    }

    public Task DisposeAsync()
    {
        System.IO.Directory.Delete(Directory, recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>The tests that run the published sample: one publish and one PostgreSQL server for all of them.</summary>
[CollectionDefinition(Name)]
public sealed class PublishedSampleCollection : ICollectionFixture<PublishedSample>, ICollectionFixture<PostgreSqlFixture>
{
    public const string Name = "Published sample";
}
