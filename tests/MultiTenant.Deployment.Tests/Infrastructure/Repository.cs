using System.Reflection;

namespace MultiTenant.Deployment.Tests.Infrastructure;

/// <summary>The repository's files, found from the path the test project was built in.</summary>
public static class Repository
{
    public static string Root { get; } = typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(attribute => attribute.Key == "RepositoryRoot").Value!;

    public static string PathOf(string relativePath) => Path.Combine(Root, relativePath);

    public static string Read(string relativePath)
    {
        string path = PathOf(relativePath);
        Assert.True(File.Exists(path), $"{relativePath} does not exist in the repository.");
        return File.ReadAllText(path);
    }
}
