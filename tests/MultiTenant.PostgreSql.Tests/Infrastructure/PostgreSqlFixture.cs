using System.Collections.Concurrent;
using Npgsql;

namespace MultiTenant.PostgreSql.Tests.Infrastructure;

/// <summary>
/// The PostgreSQL server shared by the tests of the <see cref="PostgreSqlCollection"/>: the server named by <c>TEST_DATABASE_URL</c>
/// (a postgres:// URL or a connection string with rights to create databases and roles) when it is set, otherwise a
/// <see cref="ThrowawayPostgreSqlServer"/>. Each test class gets its own database. When no server can be had the fixture throws, so
/// every test of the collection fails (never skips): with <c>CI=true</c> that fails the run.
/// </summary>
public sealed class PostgreSqlFixture : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _databases = new();
    private ThrowawayPostgreSqlServer? _server;
    private NpgsqlDataSource? _admin;

    /// <summary>A superuser (or admin) connection string to the maintenance database.</summary>
    public string AdminConnectionString { get; private set; } = string.Empty;

    /// <summary>Whether the server is a throwaway one the tests own.</summary>
    public bool OwnsServer => _server is not null;

    /// <summary>Where the server comes from, for test output.</summary>
    public string Description { get; private set; } = string.Empty;

    public NpgsqlDataSource Admin => _admin ?? throw new InvalidOperationException("The fixture is not initialised.");

    public async Task InitializeAsync()
    {
        string? url = Environment.GetEnvironmentVariable("TEST_DATABASE_URL");
        try
        {
            if (!string.IsNullOrWhiteSpace(url))
            {
                AdminConnectionString = DatabaseUrl.ToConnectionString(url);
                Description = "TEST_DATABASE_URL";
            }
            else
            {
                _server = await ThrowawayPostgreSqlServer.StartNewAsync();
                AdminConnectionString = _server.ConnectionString;
                Description = $"throwaway PostgreSQL {_server.Version} on 127.0.0.1:{_server.Port}";
            }

            _admin = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(AdminConnectionString) { ApplicationName = "mt-test-admin" }.ConnectionString);
            await using var command = _admin.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync();
        }
        catch (Exception ex)
        {
            string ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase)
                ? " (CI=true: PostgreSQL tests never skip; this fails the run)"
                : string.Empty;
            throw new InvalidOperationException($"No PostgreSQL server for the integration tests{ci}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The connection string of a database of the caller's own (created once per <paramref name="owner"/>, for example per test class).
    /// </summary>
    public Task<string> GetDatabaseAsync(string owner) =>
        _databases.GetOrAdd(owner, o => new Lazy<Task<string>>(() => CreateDatabaseAsync(o))).Value;

    /// <summary>Creates a fresh database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string hint)
    {
        string name = "mt_" + new string(hint.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(20).ToArray()) + "_" + Guid.NewGuid().ToString("N")[..8];
        await using (var command = Admin.CreateCommand($"CREATE DATABASE \"{name}\""))
        {
            await command.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        if (_admin is not null && _server is null)
        {
            // An external server: leave nothing behind.
            foreach (var database in _databases.Values)
            {
                if (database.IsValueCreated && database.Value.IsCompletedSuccessfully)
                {
                    string name = new NpgsqlConnectionStringBuilder(database.Value.Result).Database!;
                    NpgsqlConnection.ClearAllPools();
                    await using var drop = _admin.CreateCommand(
                        $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE); DROP ROLE IF EXISTS \"{name}_owner\"; DROP ROLE IF EXISTS \"{name}_app\"");
                    await drop.ExecuteNonQueryAsync();
                }
            }
        }

        if (_admin is not null)
        {
            await _admin.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class PostgreSqlCollection : ICollectionFixture<PostgreSqlFixture>
{
    public const string Name = "PostgreSQL";
}
