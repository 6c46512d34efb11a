using System.Text;
using System.Text.RegularExpressions;

namespace MultiTenant.Deployment.Tests.Infrastructure;

/// <summary>
/// The repository's .dockerignore as the builder applies it: each line a pattern relative to the context root (a leading or trailing
/// slash dropped, <c>**</c> any number of directories, <c>*</c> and <c>?</c> within one name), matching a path or any of its parent
/// directories; a later <c>!pattern</c> takes a path back in. Enough to tell whether a file reaches the build context.
/// </summary>
public sealed class DockerIgnore
{
    private readonly List<(Regex Pattern, bool Exclude, string Text)> _rules = [];

    private DockerIgnore()
    {
    }

    public static DockerIgnore Load(string relativePath = ".dockerignore")
    {
        var ignore = new DockerIgnore();
        foreach (string raw in Repository.Read(relativePath).Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            bool exclude = !line.StartsWith('!');
            string pattern = (exclude ? line : line[1..]).Trim().Trim('/');
            ignore._rules.Add((ToRegex(pattern), exclude, line));
        }

        return ignore;
    }

    /// <summary>The rule that keeps <paramref name="path"/> (relative, with <c>/</c>) out of the context, or null when it is in.</summary>
    public string? ExcludedBy(string path)
    {
        string? excludedBy = null;
        var candidates = new List<string>();
        string current = path.Trim('/');
        while (current.Length > 0)
        {
            candidates.Add(current);
            int slash = current.LastIndexOf('/');
            current = slash < 0 ? string.Empty : current[..slash];
        }

        foreach (var (pattern, exclude, text) in _rules)
        {
            if (candidates.Exists(candidate => pattern.IsMatch(candidate)))
            {
                excludedBy = exclude ? text : null;
            }
        }

        return excludedBy;
    }

    private static Regex ToRegex(string pattern)
    {
        var regex = new StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                // "**/" is zero or more directories; a trailing "**" anything below.
                bool slash = i + 2 < pattern.Length && pattern[i + 2] == '/';
                regex.Append(slash ? "(?:.*/)?" : ".*");
                i += slash ? 2 : 1;
            }
            else if (c == '*')
            {
                regex.Append("[^/]*");
            }
            else if (c == '?')
            {
                regex.Append("[^/]");
            }
            else
            {
                regex.Append(Regex.Escape(c.ToString()));
            }
        }

        return new Regex(regex.Append('$').ToString(), RegexOptions.CultureInvariant);
    }
}
