using System.Diagnostics;
using MultiTenant.PostgreSql.Tests.Infrastructure;

namespace MultiTenant.Deployment.Tests.Infrastructure;

/// <summary>
/// The sample built once per test run the way the Dockerfile's build stage builds it, without a container engine: the build
/// context is the repository minus .dockerignore; each <c>COPY</c> of the stage copies from it into a temp folder standing for the
/// stage's filesystem (so a file the restore or publish needs but no COPY brings fails here as it would in <c>docker build</c>); each
/// <c>RUN</c> (only <c>dotnet</c> commands are supported; anything else fails) runs in the stage's WORKDIR there, with its absolute
/// output folder moved into a temp folder: <see cref="Directory"/>, what the runtime stage copies to its WORKDIR.
/// </summary>
public sealed class PublishedSample : IAsyncLifetime
{
    private static readonly TimeSpan CommandLimit = TimeSpan.FromMinutes(5);

    private readonly string _root = System.IO.Directory.CreateTempSubdirectory("mt-docker-build-").FullName;

    /// <summary>The publish output: the runtime stage's <c>/app</c>.</summary>
    public string Directory => Path.Combine(_root, "output");

    /// <summary>How long the build stage took, for the test output.</summary>
    public TimeSpan BuildTime { get; private set; }

    public async Task InitializeAsync()
    {
        var dockerfile = Dockerfile.Load();
        var build = Assert.Single(dockerfile.Stages, s => s.Name == "build");
        var ignore = DockerIgnore.Load();
        string filesystem = Path.Combine(_root, "stage");
        string workdir = filesystem;
        string? output = null;
        long started = Stopwatch.GetTimestamp();
        foreach (var instruction in build.Instructions)
        {
            switch (instruction.Keyword)
            {
                case "WORKDIR":
                    Assert.StartsWith("/", instruction.Arguments);
                    workdir = Path.Combine(filesystem, instruction.Arguments.TrimStart('/'));
                    System.IO.Directory.CreateDirectory(workdir);
                    break;
                case "COPY":
                    Copy(instruction.Arguments, ignore, workdir);
                    break;
                case "RUN":
                    output = await RunAsync(instruction.Arguments, workdir) ?? output;
                    break;
                default:
                    throw new Xunit.Sdk.XunitException($"The build stage has a {instruction.Keyword} this test does not carry out.");
            }
        }

        BuildTime = Stopwatch.GetElapsedTime(started);
        Assert.True(output is not null, "No RUN of the build stage names an output folder (-o).");

        // The runtime stage copies exactly that folder into its WORKDIR.
        var copy = Assert.Single(dockerfile.Runtime.All("COPY"));
        string[] parts = copy.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("--from=build", parts);
        Assert.Equal(output.TrimEnd('/'), parts.Where(p => !p.StartsWith("--", StringComparison.Ordinal)).First().TrimEnd('/'));

        // The image's /app is readable (not writable) by its unprivileged user; a temp folder is private to its creator.
        foreach (string folder in (string[])[_root, Directory])
        {
            File.SetUnixFileMode(
                folder,
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
    }

    public Task DisposeAsync()
    {
        System.IO.Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    /// <summary><c>COPY [--chown=..] [--link] src... dest</c> from the build context (the repository minus .dockerignore).</summary>
    private static void Copy(string arguments, DockerIgnore ignore, string workdir)
    {
        var parts = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        Assert.DoesNotContain(parts, p => p.StartsWith("--from", StringComparison.Ordinal));
        parts.RemoveAll(p => p.StartsWith("--chown=", StringComparison.Ordinal) || p == "--link");
        Assert.True(parts.Count >= 2, $"COPY needs a source and a destination: {arguments}");
        string destination = parts[^1];
        Assert.False(destination.StartsWith('/'), $"COPY to an absolute path is not carried out by this test: {arguments}");
        string target = Path.Combine(workdir, destination);
        foreach (string source in parts.Take(parts.Count - 1))
        {
            Assert.DoesNotContain('*', source);
            string relative = source.TrimEnd('/');
            string path = Repository.PathOf(relative);
            if (System.IO.Directory.Exists(path))
            {
                int copied = 0;
                foreach (string file in System.IO.Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories))
                {
                    string inContext = Path.GetRelativePath(Repository.Root, file).Replace('\\', '/');
                    if (ignore.ExcludedBy(inContext) is null)
                    {
                        string to = Path.Combine(target, Path.GetRelativePath(path, file));
                        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                        File.Copy(file, to, overwrite: true); // a later COPY replaces what an earlier one brought, as in an image layer
                        copied++;
                    }
                }

                Assert.True(copied > 0, $"COPY {source}: nothing of it is in the build context.");
            }
            else
            {
                Assert.True(File.Exists(path), $"COPY {source}: no such file in the repository.");
                Assert.True(ignore.ExcludedBy(relative) is null, $"COPY {source}: .dockerignore keeps it out of the build context ({ignore.ExcludedBy(relative)}).");
                bool intoFolder = destination.EndsWith('/') || parts.Count > 2;
                string to = intoFolder ? Path.Combine(target, Path.GetFileName(relative)) : target;
                System.IO.Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                File.Copy(path, to, overwrite: true);
            }
        }
    }

    /// <summary>Runs a <c>dotnet</c> RUN line in the stage; returns its <c>-o</c> folder (the Dockerfile's path), if any.</summary>
    private async Task<string?> RunAsync(string arguments, string workdir)
    {
        var words = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        Assert.True(words[0] == "dotnet" && !arguments.Contains("&&", StringComparison.Ordinal), $"The build stage runs a command this test does not carry out: {arguments}");
        words.RemoveAt(0);
        string? output = null;
        int o = words.IndexOf("-o");
        if (o >= 0)
        {
            Assert.True(o + 1 < words.Count && words[o + 1].StartsWith('/'), $"The output folder is not an absolute path: {arguments}");
            output = words[o + 1];
            words[o + 1] = Directory;
        }

        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workdir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string word in words.Append("-nodeReuse:false"))
        {
            start.ArgumentList.Add(word);
        }

        // A child build must not join the MSBuild of the `dotnet test` that may have started this test run.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToArray())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not run dotnet.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(CommandLimit);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        Assert.True(
            process.ExitCode == 0,
            $"RUN {arguments} exited with {process.ExitCode}:{Environment.NewLine}{await stdout}{Environment.NewLine}{await stderr}");
        return output;
    }
}

/// <summary>The tests that run the published sample: one build and one PostgreSQL server for all of them.</summary>
[CollectionDefinition(Name)]
public sealed class PublishedSampleCollection : ICollectionFixture<PublishedSample>, ICollectionFixture<PostgreSqlFixture>
{
    public const string Name = "Published sample";
}
