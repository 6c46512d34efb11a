using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using MultiTenant.Deployment.Tests.Infrastructure;

namespace MultiTenant.Deployment.Tests;

/// <summary>
/// The Dockerfile and .dockerignore read as the builder reads them. (No image can be built here; the published-sample tests carry out
/// the build stage's COPY and RUN lines and start the output the way the runtime stage does.)
/// </summary>
public sealed partial class DockerfileTests
{
    private const string SampleProject = "samples/MultiTenant.Sample/MultiTenant.Sample.csproj";

    private readonly Dockerfile _dockerfile = Dockerfile.Load();

    [Fact]
    public void The_sdk_builds_and_the_aspnet_runtime_runs_the_version_global_json_and_the_projects_target()
    {
        var build = Assert.Single(_dockerfile.Stages, s => s.Name == "build");
        Assert.Equal("mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION}", build.Image);
        Assert.Equal("mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}", _dockerfile.Runtime.Image);
        Assert.NotSame(build, _dockerfile.Runtime);

        var version = DotnetVersionArgument().Match(Repository.Read("Dockerfile"));
        Assert.True(version.Success, "The Dockerfile declares no ARG DOTNET_VERSION=<major.minor> default.");
        string sdk = JsonDocument.Parse(Repository.Read("global.json")).RootElement.GetProperty("sdk").GetProperty("version").GetString()!;
        Assert.StartsWith(version.Groups["version"].Value + ".", sdk, StringComparison.Ordinal);
        string framework = XDocument.Parse(Repository.Read("Directory.Build.props")).Descendants("TargetFramework").Single().Value;
        Assert.Equal("net" + version.Groups["version"].Value, framework);
    }

    [Fact]
    public void The_image_runs_as_a_numeric_unprivileged_user_that_does_not_own_the_app()
    {
        var runtime = _dockerfile.Runtime.Instructions;
        int user = runtime.FindIndex(i => i.Keyword == "USER");
        Assert.True(user >= 0, "The runtime stage sets no USER: the app would run as root.");
        Assert.Single(runtime, i => i.Keyword == "USER");
        var ids = runtime[user].Arguments.Split(':');
        Assert.All(ids, id => Assert.Matches("^[0-9]+$", id)); // numeric, so Kubernetes' runAsNonRoot can verify it without /etc/passwd
        Assert.NotEqual("0", ids[0]);
        Assert.True(runtime.FindIndex(i => i.Keyword is "ENTRYPOINT" or "CMD") > user, "The ENTRYPOINT must come after USER.");

        // The app's files stay root's (no --chown to the user): the process can read them and not change them.
        var copy = Assert.Single(runtime, i => i.Keyword == "COPY");
        Assert.DoesNotContain("--chown=" + ids[0], copy.Arguments, StringComparison.Ordinal);
    }

    [Fact]
    public void The_entrypoint_runs_the_published_sample_with_dotnet_and_the_health_check_asks_livez()
    {
        Assert.Equal(["dotnet", Path.GetFileNameWithoutExtension(SampleProject) + ".dll"], _dockerfile.Runtime.Single("ENTRYPOINT").ExecForm());
        Assert.Null(XDocument.Parse(Repository.Read(SampleProject)).Descendants("AssemblyName").SingleOrDefault());

        var healthcheck = _dockerfile.Runtime.Single("HEALTHCHECK");
        string[] command = healthcheck.ExecForm(after: "CMD");
        string script = string.Join(' ', command);
        Assert.Contains("/livez", script, StringComparison.Ordinal);
        Assert.Contains("${HTTP_PORT", script, StringComparison.Ordinal);
        Assert.DoesNotContain("curl", script, StringComparison.Ordinal); // the runtime image has none
        Assert.Contains("--start-period=", healthcheck.Arguments, StringComparison.Ordinal);

        // The port the image exposes is the one it listens on.
        string port = _dockerfile.Runtime.Environment()["HTTP_PORT"];
        Assert.Equal(port, _dockerfile.Runtime.Single("EXPOSE").Arguments);
    }

    [Fact]
    public void The_restore_layer_copies_every_project_and_props_file_the_sample_restores_from()
    {
        var build = Assert.Single(_dockerfile.Stages, s => s.Name == "build");
        int restore = build.Instructions.FindIndex(i => i.Keyword == "RUN" && i.Arguments.StartsWith("dotnet restore " + SampleProject, StringComparison.Ordinal));
        Assert.True(restore >= 0, "The build stage does not restore the sample in a layer of its own.");
        var copied = build.Instructions.Take(restore).Where(i => i.Keyword == "COPY")
            .SelectMany(i =>
            {
                var parts = i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => !p.StartsWith("--", StringComparison.Ordinal)).ToArray();
                string destination = parts[^1] == "./" ? string.Empty : parts[^1];
                return parts[..^1].Select(source => destination.Length == 0 || parts.Length > 2 || destination.EndsWith('/')
                    ? Path.Combine(destination, Path.GetFileName(source)).Replace('\\', '/')
                    : destination);
            })
            .ToHashSet(StringComparer.Ordinal);

        var needed = new SortedSet<string>(StringComparer.Ordinal) { "global.json", "Directory.Packages.props" };
        foreach (string project in ProjectGraph(SampleProject))
        {
            needed.Add(project);
            for (string? folder = Path.GetDirectoryName(project); folder is not null; folder = Path.GetDirectoryName(folder))
            {
                string props = Path.Combine(folder, "Directory.Build.props").Replace('\\', '/');
                if (File.Exists(Repository.PathOf(props)))
                {
                    needed.Add(props);
                }
            }
        }

        Assert.All(needed, file => Assert.True(copied.Contains(file), $"{file} is needed by `dotnet restore` but not copied before it."));
    }

    [Fact]
    public void The_build_context_has_every_source_of_src_and_samples_and_no_build_output()
    {
        var ignore = DockerIgnore.Load();
        int checkedFiles = 0;
        foreach (string folder in (string[])["src", "samples"])
        {
            foreach (string file in Directory.EnumerateFiles(Repository.PathOf(folder), "*", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(Repository.Root, file).Replace('\\', '/');
                bool buildOutput = relative.Split('/').Any(part => part is "bin" or "obj");
                string? excludedBy = ignore.ExcludedBy(relative);
                if (buildOutput)
                {
                    // A host's obj/project.assets.json names the host's paths: in the context it would break the image's restore.
                    Assert.True(excludedBy is not null, $"{relative} (build output) reaches the build context.");
                }
                else
                {
                    Assert.True(excludedBy is null, $"{relative} is kept out of the build context by '{excludedBy}'.");
                    checkedFiles++;
                }
            }
        }

        Assert.True(checkedFiles > 50, $"Only {checkedFiles} source files found under src/ and samples/.");
        Assert.NotNull(ignore.ExcludedBy(".git/config"));
        Assert.NotNull(ignore.ExcludedBy("tests/MultiTenant.Core.Tests/MultiTenant.Core.Tests.csproj"));
    }

    /// <summary>The project and every project it references, transitively, relative to the repository root.</summary>
    private static SortedSet<string> ProjectGraph(string project)
    {
        var projects = new SortedSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([project]);
        while (pending.TryPop(out string? current))
        {
            if (!projects.Add(current))
            {
                continue;
            }

            string folder = Path.GetDirectoryName(Repository.PathOf(current))!;
            foreach (var reference in XDocument.Parse(Repository.Read(current)).Descendants("ProjectReference"))
            {
                string path = Path.GetFullPath(Path.Combine(folder, reference.Attribute("Include")!.Value.Replace('\\', '/')));
                pending.Push(Path.GetRelativePath(Repository.Root, path).Replace('\\', '/'));
            }
        }

        return projects;
    }

    [GeneratedRegex(@"^ARG DOTNET_VERSION=(?<version>[0-9]+\.[0-9]+)\s*$", RegexOptions.Multiline)]
    private static partial Regex DotnetVersionArgument();
}
