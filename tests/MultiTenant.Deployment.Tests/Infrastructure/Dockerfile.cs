using System.Text.Json;
using System.Text.RegularExpressions;

namespace MultiTenant.Deployment.Tests.Infrastructure;

/// <summary>
/// The repository's Dockerfile read the way the builder reads it: comments dropped, backslash continuations joined, instructions
/// grouped by stage (FROM ... AS name). Enough of the syntax for what this Dockerfile uses, and strict about the rest (an
/// instruction in a form this does not read fails the test instead of being skipped).
/// </summary>
public sealed partial class Dockerfile
{
    private Dockerfile(IReadOnlyList<Stage> stages) => Stages = stages;

    public IReadOnlyList<Stage> Stages { get; }

    /// <summary>The last stage: what the image runs.</summary>
    public Stage Runtime => Stages[^1];

    public static Dockerfile Load(string relativePath = "Dockerfile")
    {
        var stages = new List<Stage>();
        var logical = new List<string>();
        string pending = string.Empty;
        foreach (string raw in Repository.Read(relativePath).Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.TrimStart().StartsWith('#'))
            {
                continue; // a comment, also inside a continued instruction (the builder drops those too)
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1].Trim() + " ";
                continue;
            }

            string full = (pending + line.Trim()).Trim();
            pending = string.Empty;
            if (full.Length > 0)
            {
                logical.Add(full);
            }
        }

        foreach (string line in logical)
        {
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            string keyword = line[..space].ToUpperInvariant();
            string arguments = line[(space + 1)..].Trim();
            if (keyword == "ARG" && stages.Count == 0)
            {
                continue; // global build arguments (the .NET version)
            }

            if (keyword == "FROM")
            {
                var from = FromPattern().Match(arguments);
                Assert.True(from.Success, $"FROM in an unexpected form: {arguments}");
                stages.Add(new Stage(from.Groups["image"].Value, from.Groups["name"].Success ? from.Groups["name"].Value : null));
                continue;
            }

            Assert.True(stages.Count > 0, $"{keyword} before the first FROM");
            stages[^1].Instructions.Add(new Instruction(keyword, arguments));
        }

        return new Dockerfile(stages);
    }

    [GeneratedRegex(@"^(?<image>\S+)(\s+AS\s+(?<name>\S+))?$", RegexOptions.IgnoreCase)]
    private static partial Regex FromPattern();

    public sealed record Instruction(string Keyword, string Arguments)
    {
        /// <summary>An exec-form argument list (<c>["dotnet", "app.dll"]</c>), parsed as JSON as the builder does.</summary>
        public string[] ExecForm(string? after = null)
        {
            string json = after is null ? Arguments : Arguments[(Arguments.IndexOf(after, StringComparison.Ordinal) + after.Length)..].Trim();
            Assert.True(json.StartsWith('['), $"{Keyword} is not in exec form: {Arguments}");
            return JsonSerializer.Deserialize<string[]>(json)!;
        }
    }

    public sealed record Stage(string Image, string? Name)
    {
        public List<Instruction> Instructions { get; } = [];

        public IEnumerable<Instruction> All(string keyword) => Instructions.Where(i => i.Keyword == keyword);

        public Instruction Single(string keyword) => Assert.Single(Instructions, i => i.Keyword == keyword);

        /// <summary>The stage's ENV, in both forms (<c>ENV A=1 B=2</c> and <c>ENV A 1</c>).</summary>
        public Dictionary<string, string> Environment()
        {
            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var env in All("ENV"))
            {
                if (!env.Arguments.Contains('=', StringComparison.Ordinal))
                {
                    int space = env.Arguments.IndexOf(' ', StringComparison.Ordinal);
                    environment[env.Arguments[..space]] = env.Arguments[(space + 1)..].Trim();
                    continue;
                }

                foreach (string pair in env.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    int equals = pair.IndexOf('=', StringComparison.Ordinal);
                    Assert.True(equals > 0 && !pair.Contains('"', StringComparison.Ordinal), $"ENV pair in an unexpected form: {pair}");
                    environment[pair[..equals]] = pair[(equals + 1)..];
                }
            }

            return environment;
        }
    }
}
