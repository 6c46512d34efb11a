using System.Diagnostics;
using System.Text;
using Npgsql;

namespace MultiTenant.PostgreSql.Tests.Infrastructure;

/// <summary>
/// Looks for a secret in stored bytes, query results or a <c>pg_dump</c>: as text, as hex (how PostgreSQL prints bytea, either case)
/// and as base64 at any byte alignment (standard and URL-safe), so an encoding of the secret inside a larger value is found too.
/// </summary>
public static class SecretScan
{
    /// <summary>A key-encryption key for tests (base64 of 32 bytes); hosts of one test share it like the hosts of a fleet.</summary>
    public const string KeyEncryptionKey = "q6V0jOQ3m1rX0yqJ8m0e6K8h4fN2sVb1tZ9cW5dY3aE=";

    /// <summary>The forms of <paramref name="secret"/> that must not appear.</summary>
    public static IReadOnlyList<string> FormsOf(string secret)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(secret);
        var forms = new List<string> { secret, Convert.ToHexStringLower(bytes), Convert.ToHexString(bytes) };
        for (int offset = 0; offset < 3; offset++)
        {
            // Inside a larger encoding the secret starts at any of three alignments; the last 4 characters depend on what follows.
            string base64 = Convert.ToBase64String(bytes, offset, bytes.Length - offset);
            string aligned = base64[..^4];
            forms.Add(aligned);
            forms.Add(aligned.Replace('+', '-').Replace('/', '_'));
        }

        return forms;
    }

    /// <summary>Asserts that <paramref name="haystack"/> holds no form of <paramref name="secret"/>.</summary>
    public static void AssertAbsent(string haystack, string secret, string where)
    {
        foreach (string form in FormsOf(secret))
        {
            Assert.False(haystack.Contains(form, StringComparison.Ordinal), $"{where} holds the secret (as '{form[..Math.Min(6, form.Length)]}…').");
        }
    }

    /// <summary>Asserts that raw <paramref name="bytes"/> hold no form of <paramref name="secret"/>.</summary>
    public static void AssertAbsent(byte[] bytes, string secret, string where) =>
        AssertAbsent(Encoding.Latin1.GetString(bytes), secret, where);

    /// <summary>
    /// Every row of every table of the database's non-system schemas, each column cast to text (bytea prints as hex), one line per row.
    /// </summary>
    public static async Task<string> DumpAllRowsAsync(string connectionString)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var tables = new List<string>();
        await using (var command = dataSource.CreateCommand(
            "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables " +
            "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }

        var all = new StringBuilder();
        foreach (string table in tables)
        {
            await using var command = dataSource.CreateCommand($"SELECT t::text FROM {table} AS t");
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                all.Append(table).Append(": ").AppendLine(reader.GetString(0));
            }
        }

        return all.ToString();
    }

    /// <summary>Runs <c>pg_dump</c> (plain SQL, data included) of the database and returns its output.</summary>
    public static async Task<string> PgDumpAsync(string connectionString)
    {
        string bin = ThrowawayPostgreSqlServer.FindBinaries(out string? problem)
            ?? throw new InvalidOperationException("pg_dump is not available: " + problem);
        var settings = new NpgsqlConnectionStringBuilder(connectionString);
        var start = new ProcessStartInfo
        {
            FileName = Path.Combine(bin, "pg_dump"),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])["--host", settings.Host!, "--port", settings.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--username", settings.Username!, "--no-password", "--dbname", settings.Database!])
        {
            start.ArgumentList.Add(argument);
        }

        if (!string.IsNullOrEmpty(settings.Password))
        {
            start.Environment["PGPASSWORD"] = settings.Password;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not run pg_dump.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        string dump = await stdout;
        Assert.True(process.ExitCode == 0, "pg_dump failed: " + await stderr);
        return dump;
    }
}
