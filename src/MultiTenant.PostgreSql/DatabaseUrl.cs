using System.Data.Common;
using System.Globalization;
using System.Text;
using Npgsql;

namespace MultiTenant.PostgreSql;

/// <summary>
/// Reads a <c>DATABASE_URL</c>: a <c>postgres://</c> or <c>postgresql://</c> URI, or a plain Npgsql connection string.
/// </summary>
/// <remarks>
/// <para>URI form: <c>postgres://user:password@host:port/database?sslmode=require&amp;pool_max_conns=20</c>. User, password, host and
/// database are percent-decoded; the port defaults to 5432; several hosts may be given as <c>host1:5432,host2:5433</c>.</para>
/// <para>Query parameters: <c>sslmode</c> (disable, allow, prefer, require, verify-ca, verify-full), <c>pool_max_conns</c>
/// (Maximum Pool Size), <c>pool_min_conns</c> (Minimum Pool Size), <c>connect_timeout</c> (seconds), <c>application_name</c>,
/// <c>target_session_attrs</c>, <c>channel_binding</c>, <c>options</c>, <c>sslrootcert</c>, <c>sslcert</c>, <c>sslkey</c>,
/// <c>sslpassword</c>, <c>user</c>, <c>password</c>, <c>dbname</c>. Any other parameter is rejected with an error that names it.</para>
/// <para>Errors are <see cref="InvalidDatabaseUrlException"/>s whose message names the problem and never contains the password (nor
/// any other value taken from the URL).</para>
/// </remarks>
public static partial class DatabaseUrl
{
    private static readonly string[] SupportedParameters =
    [
        "sslmode", "pool_max_conns", "pool_min_conns", "connect_timeout", "application_name", "target_session_attrs", "channel_binding",
        "options", "sslrootcert", "sslcert", "sslkey", "sslpassword", "user", "password", "dbname",
    ];

    /// <summary>Whether <paramref name="value"/> is written as a URI (<c>scheme://…</c>) rather than as a connection string.</summary>
    public static bool IsUrl(string? value)
    {
        if (value is null)
        {
            return false;
        }

        var span = value.AsSpan().Trim();
        int separator = span.IndexOf("://", StringComparison.Ordinal);
        return separator > 0 && IsSchemeName(span[..separator]);
    }

    /// <summary>
    /// Parses a <c>postgres://</c> / <c>postgresql://</c> URI or an Npgsql connection string into a connection string builder.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="databaseUrlOrConnectionString"/> is null.</exception>
    /// <exception cref="InvalidDatabaseUrlException">The value is malformed; the message says why, without the password.</exception>
    public static NpgsqlConnectionStringBuilder Parse(string databaseUrlOrConnectionString)
    {
        ArgumentNullException.ThrowIfNull(databaseUrlOrConnectionString);
        string value = databaseUrlOrConnectionString.Trim();
        if (value.Length == 0)
        {
            throw new InvalidDatabaseUrlException("The database URL or connection string is empty.");
        }

        return IsUrl(value) ? ParseUrl(value) : ParseConnectionString(value);
    }

    /// <summary>Parses like <see cref="Parse"/> and returns the Npgsql connection string (which includes the password, if any).</summary>
    /// <inheritdoc cref="Parse" path="/exception"/>
    public static string ToConnectionString(string databaseUrlOrConnectionString) => Parse(databaseUrlOrConnectionString).ConnectionString;

    private static NpgsqlConnectionStringBuilder ParseUrl(string url)
    {
        int schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        string scheme = url[..schemeEnd];
        if (!scheme.Equals("postgres", StringComparison.OrdinalIgnoreCase) && !scheme.Equals("postgresql", StringComparison.OrdinalIgnoreCase))
        {
            // The scheme is a validated name (letters, digits, '+', '-', '.'), never a secret.
            throw new InvalidDatabaseUrlException(
                $"The database URL scheme '{scheme}' is not supported; use postgres:// or postgresql:// (or an Npgsql connection string).");
        }

        string rest = url[(schemeEnd + 3)..];
        if (rest.Contains('#', StringComparison.Ordinal))
        {
            throw new InvalidDatabaseUrlException(
                "The database URL contains '#'. A URL has no fragment here; percent-encode '#' (as %23) in the user name or password.");
        }

        // RFC 3986: the authority ends at the first '/' or '?'; the user info is what precedes its last '@'.
        int authorityEnd = rest.AsSpan().IndexOfAny('/', '?');
        string authority = authorityEnd < 0 ? rest : rest[..authorityEnd];
        string pathAndQuery = authorityEnd < 0 ? string.Empty : rest[authorityEnd..];

        var builder = new NpgsqlConnectionStringBuilder();
        int at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            string userInfo = authority[..at];
            int colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            string user = Decode(colon < 0 ? userInfo : userInfo[..colon], "user name");
            if (user.Length > 0)
            {
                builder.Username = user;
            }

            if (colon >= 0)
            {
                builder.Password = Decode(userInfo[(colon + 1)..], "password");
            }
        }

        ParseHosts(at >= 0 ? authority[(at + 1)..] : authority, builder);

        string query = string.Empty;
        string path = pathAndQuery;
        int questionMark = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        if (questionMark >= 0)
        {
            query = pathAndQuery[(questionMark + 1)..];
            path = pathAndQuery[..questionMark];
        }

        if (path.Length > 1)
        {
            string rawDatabase = path[1..];
            if (rawDatabase.Contains('/', StringComparison.Ordinal))
            {
                throw new InvalidDatabaseUrlException(
                    "The database URL's path must be a single database name (/name); it has more segments. Percent-encode '/' (as %2F) where it belongs to a value.");
            }

            builder.Database = Decode(rawDatabase, "database name");
        }

        ParseQuery(query, builder);
        return builder;
    }

    private static void ParseHosts(string hostList, NpgsqlConnectionStringBuilder builder)
    {
        if (hostList.Length == 0)
        {
            throw new InvalidDatabaseUrlException("The database URL has no host (expected postgres://user:password@host:port/database).");
        }

        string[] entries = hostList.Split(',');
        var hosts = new List<(string Host, int? Port)>(entries.Length);
        foreach (string entry in entries)
        {
            string host;
            string? port = null;
            if (entry.StartsWith('['))
            {
                int close = entry.IndexOf(']', StringComparison.Ordinal);
                if (close < 0 || (close + 1 < entry.Length && entry[close + 1] != ':'))
                {
                    throw new InvalidDatabaseUrlException("An IPv6 host in the database URL is malformed (expected [address] or [address]:port).");
                }

                host = entry[1..close];
                port = close + 1 < entry.Length ? entry[(close + 2)..] : null;
            }
            else
            {
                int colon = entry.LastIndexOf(':');
                host = colon < 0 ? entry : entry[..colon];
                port = colon < 0 ? null : entry[(colon + 1)..];
                host = Decode(host, "host");
            }

            if (host.Length == 0)
            {
                throw new InvalidDatabaseUrlException("The database URL has an empty host name.");
            }

            int? portNumber = null;
            if (port is not null)
            {
                if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) || parsed is < 1 or > 65535)
                {
                    // Never echo the text: a password with an unencoded '/', '?' or '@' ends up here.
                    throw new InvalidDatabaseUrlException(
                        "The port in the database URL is not a number between 1 and 65535. If the password contains '@', ':', '/', '?' or '#', percent-encode them.");
                }

                portNumber = parsed;
            }

            hosts.Add((host, portNumber));
        }

        if (hosts.Count == 1)
        {
            builder.Host = hosts[0].Host;
            if (hosts[0].Port is { } single)
            {
                builder.Port = single;
            }

            return;
        }

        var joined = new StringBuilder();
        foreach (var (host, port) in hosts)
        {
            if (host.Contains(':', StringComparison.Ordinal))
            {
                throw new InvalidDatabaseUrlException("IPv6 addresses are supported only with a single host in the database URL.");
            }

            if (joined.Length > 0)
            {
                joined.Append(',');
            }

            joined.Append(host).Append(':').Append((port ?? 5432).ToString(CultureInfo.InvariantCulture));
        }

        builder.Host = joined.ToString();
    }

    private static void ParseQuery(string query, NpgsqlConnectionStringBuilder builder)
    {
        if (query.Length == 0)
        {
            return;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string pair in query.Split('&'))
        {
            if (pair.Length == 0)
            {
                continue;
            }

            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            string name = equals < 0 ? pair : pair[..equals];
            if (!IsParameterName(name))
            {
                throw new InvalidDatabaseUrlException(
                    "A query parameter name in the database URL is not valid (expected lower-case letters, digits and '_'). If the password contains '?' or '&', percent-encode them.");
            }

            if (equals < 0)
            {
                throw new InvalidDatabaseUrlException($"The query parameter '{name}' in the database URL has no value (expected {name}=value).");
            }

            if (!seen.Add(name))
            {
                throw new InvalidDatabaseUrlException($"The query parameter '{name}' is given more than once in the database URL.");
            }

            string value = Decode(pair[(equals + 1)..], $"value of '{name}'");
            Apply(name, value, builder);
        }

        if (builder.MinPoolSize > builder.MaxPoolSize)
        {
            throw new InvalidDatabaseUrlException("The query parameter 'pool_min_conns' must not exceed 'pool_max_conns' in the database URL.");
        }
    }

    private static void Apply(string name, string value, NpgsqlConnectionStringBuilder builder)
    {
        switch (name)
        {
            case "sslmode":
                builder.SslMode = value switch
                {
                    "disable" => SslMode.Disable,
                    "allow" => SslMode.Allow,
                    "prefer" => SslMode.Prefer,
                    "require" => SslMode.Require,
                    "verify-ca" => SslMode.VerifyCA,
                    "verify-full" => SslMode.VerifyFull,
                    _ => throw new InvalidDatabaseUrlException(
                        "The query parameter 'sslmode' must be one of disable, allow, prefer, require, verify-ca, verify-full.", name),
                };
                break;
            case "pool_max_conns":
                builder.MaxPoolSize = ParseInt(name, value, 1, 1024);
                break;
            case "pool_min_conns":
                builder.MinPoolSize = ParseInt(name, value, 0, 1024);
                break;
            case "connect_timeout":
                builder.Timeout = ParseInt(name, value, 0, 1024);
                break;
            case "application_name":
                builder.ApplicationName = value;
                break;
            case "channel_binding":
                builder.ChannelBinding = value switch
                {
                    "disable" => ChannelBinding.Disable,
                    "prefer" => ChannelBinding.Prefer,
                    "require" => ChannelBinding.Require,
                    _ => throw new InvalidDatabaseUrlException(
                        "The query parameter 'channel_binding' must be one of disable, prefer, require.", name),
                };
                break;
            case "target_session_attrs":
                builder.TargetSessionAttributes = value switch
                {
                    "any" or "read-write" or "read-only" or "primary" or "standby" or "prefer-standby" => value,
                    _ => throw new InvalidDatabaseUrlException(
                        "The query parameter 'target_session_attrs' must be one of any, read-write, read-only, primary, standby, prefer-standby.", name),
                };
                break;
            case "options":
                builder.Options = value;
                break;
            case "sslrootcert":
                builder.RootCertificate = value;
                break;
            case "sslcert":
                builder.SslCertificate = value;
                break;
            case "sslkey":
                builder.SslKey = value;
                break;
            case "sslpassword":
                builder.SslPassword = value;
                break;
            case "user":
                RejectIfSet(name, builder.Username);
                builder.Username = value;
                break;
            case "password":
                RejectIfSet(name, builder.Password);
                builder.Password = value;
                break;
            case "dbname":
                RejectIfSet(name, builder.Database);
                builder.Database = value;
                break;
            case "pool_max_conn_lifetime" or "pool_max_conn_idle_time" or "pool_health_check_period" or "pool_max_conn_lifetime_jitter":
                throw new InvalidDatabaseUrlException(
                    $"The query parameter '{name}' (a pgx pool setting) is not supported; use an Npgsql connection string instead (for example 'Connection Lifetime', 'Connection Idle Lifetime').",
                    name);
            default:
                throw new InvalidDatabaseUrlException(
                    $"The query parameter '{name}' is not supported in the database URL. Supported: {string.Join(", ", SupportedParameters)}; or use an Npgsql connection string.",
                    name);
        }
    }

    private static void RejectIfSet(string name, string? current)
    {
        if (!string.IsNullOrEmpty(current))
        {
            throw new InvalidDatabaseUrlException($"The query parameter '{name}' repeats a part already given in the database URL.", name);
        }
    }

    private static int ParseInt(string name, string value, int min, int max)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int result) || result < min || result > max)
        {
            throw new InvalidDatabaseUrlException(
                string.Create(CultureInfo.InvariantCulture, $"The query parameter '{name}' must be a whole number from {min} to {max}."), name);
        }

        return result;
    }
}
