using Npgsql;

namespace MultiTenant.PostgreSql.Tests;

public sealed class DatabaseUrlTests
{
    private const string Secret = "Sup3r$ecretPw";

    public static TheoryData<string, string?, int, string?, string?, string?> GoodUrls => new()
    {
        // url, host, port, database, user, password
        { "postgres://alice:s3cret@db.example.com:6543/app", "db.example.com", 6543, "app", "alice", "s3cret" },
        { "postgresql://alice@localhost/app", "localhost", 5432, "app", "alice", null },
        { "POSTGRES://alice:pw@localhost/app", "localhost", 5432, "app", "alice", "pw" },
        { "postgres://alice:p%40ss%3Aw%2Fo%3Frd%23%25@h/app", "h", 5432, "app", "alice", "p@ss:w/o?rd#%" },
        { "postgres://al%20ice:pw@h:5432/my%20db", "h", 5432, "my db", "al ice", "pw" },
        { "postgres://alice:pa+ss@h/db", "h", 5432, "db", "alice", "pa+ss" },
        { "postgres://alice:p%C3%A4ss@h/db", "h", 5432, "db", "alice", "päss" },
        { "postgres://alice:pw@h", "h", 5432, null, "alice", "pw" },
        { "postgres://alice:pw@h/", "h", 5432, null, "alice", "pw" },
        { "postgres://alice:pw@[::1]:5433/db", "::1", 5433, "db", "alice", "pw" },
        { "postgres://alice:pw@[::1]/db", "::1", 5432, "db", "alice", "pw" },
        { "postgres://%2Fvar%2Frun%2Fpostgresql/db", "/var/run/postgresql", 5432, "db", null, null },
        { "postgres://alice@h/db?password=p%26w", "h", 5432, "db", "alice", "p&w" },
        { "postgres://h/?user=alice&password=pw&dbname=db", "h", 5432, "db", "alice", "pw" },
        { "  postgres://alice:pw@h/db  ", "h", 5432, "db", "alice", "pw" },
        { "Host=h;Port=5433;Username=alice;Password=pw;Database=db", "h", 5433, "db", "alice", "pw" },
        { "Server=h;User ID=alice;Password='p;w';Database=db", "h", 5432, "db", "alice", "p;w" },
    };

    [Theory]
    [MemberData(nameof(GoodUrls))]
    public void A_good_url_or_connection_string_gives_its_parts(string url, string? host, int port, string? database, string? user, string? password)
    {
        var settings = DatabaseUrl.Parse(url);

        Assert.Equal(host, settings.Host);
        Assert.Equal(port, settings.Port);
        Assert.Equal(database, settings.Database);
        Assert.Equal(user, settings.Username);
        Assert.Equal(password, settings.Password);
    }

    [Fact]
    public void Query_parameters_map_to_npgsql_settings()
    {
        var settings = DatabaseUrl.Parse(
            "postgres://u:pw@h/db?sslmode=require&pool_max_conns=20&pool_min_conns=2&connect_timeout=7&application_name=my%20app" +
            "&target_session_attrs=primary&channel_binding=disable&options=-c%20search_path%3Dapp&sslrootcert=%2Fca.pem&sslcert=c.pem&sslkey=k.pem&sslpassword=kp");

        Assert.Equal(SslMode.Require, settings.SslMode);
        Assert.Equal(20, settings.MaxPoolSize);
        Assert.Equal(2, settings.MinPoolSize);
        Assert.Equal(7, settings.Timeout);
        Assert.Equal("my app", settings.ApplicationName);
        Assert.Equal("primary", settings.TargetSessionAttributes);
        Assert.Equal(ChannelBinding.Disable, settings.ChannelBinding);
        Assert.Equal("-c search_path=app", settings.Options);
        Assert.Equal("/ca.pem", settings.RootCertificate);
        Assert.Equal("c.pem", settings.SslCertificate);
        Assert.Equal("k.pem", settings.SslKey);
        Assert.Equal("kp", settings.SslPassword);
    }

    [Theory]
    [InlineData("disable", SslMode.Disable)]
    [InlineData("allow", SslMode.Allow)]
    [InlineData("prefer", SslMode.Prefer)]
    [InlineData("require", SslMode.Require)]
    [InlineData("verify-ca", SslMode.VerifyCA)]
    [InlineData("verify-full", SslMode.VerifyFull)]
    public void Every_libpq_sslmode_is_understood(string sslmode, SslMode expected)
    {
        Assert.Equal(expected, DatabaseUrl.Parse("postgres://u:pw@h/db?sslmode=" + sslmode).SslMode);
    }

    [Fact]
    public void Several_hosts_keep_their_ports()
    {
        Assert.Equal("h1:5432,h2:5433", DatabaseUrl.Parse("postgres://u:pw@h1,h2:5433/db").Host);
    }

    [Fact]
    public void The_connection_string_of_a_url_is_one_npgsql_accepts()
    {
        string connectionString = DatabaseUrl.ToConnectionString("postgres://alice:p%3Bw@h:6543/db?pool_max_conns=9");

        var settings = new NpgsqlConnectionStringBuilder(connectionString);
        Assert.Equal("p;w", settings.Password);
        Assert.Equal(9, settings.MaxPoolSize);
        Assert.Equal(6543, settings.Port);
    }

    [Theory]
    [InlineData("postgres://u:pw@h/db", true)]
    [InlineData("postgresql://h", true)]
    [InlineData("mysql://h", true)]
    [InlineData("Host=h;Password=a://b", false)]
    [InlineData(null, false)]
    public void A_value_is_a_url_when_it_starts_with_a_scheme(string? value, bool isUrl)
    {
        Assert.Equal(isUrl, DatabaseUrl.IsUrl(value));
    }

    public static TheoryData<string, string> BadUrls => new()
    {
        // value, a fragment the message must contain
        { "", "empty" },
        { "   ", "empty" },
        { $"mysql://u:{Secret}@h/db", "scheme 'mysql'" },
        { $"postgres://u:{Secret}@h:port/db", "port" },
        { $"postgres://u:{Secret}@h:70000/db", "port" },
        { $"postgres://u:{Secret}@h:0/db", "port" },
        { $"postgres://u:{Secret}@/db", "no host" },
        { $"postgres://u:{Secret}@h/db?sslmode=bogus", "'sslmode'" },
        { $"postgres://u:{Secret}@h/db?pool_max_conns=0", "'pool_max_conns'" },
        { $"postgres://u:{Secret}@h/db?pool_max_conns=lots", "'pool_max_conns'" },
        { $"postgres://u:{Secret}@h/db?pool_min_conns=5&pool_max_conns=2", "must not exceed" },
        { $"postgres://u:{Secret}@h/db?connect_timeout=-1", "'connect_timeout'" },
        { $"postgres://u:{Secret}@h/db?statement_timeout=5", "'statement_timeout' is not supported" },
        { $"postgres://u:{Secret}@h/db?pool_max_conn_lifetime=1h", "'pool_max_conn_lifetime'" },
        { $"postgres://u:{Secret}@h/db?sslmode=require&sslmode=disable", "more than once" },
        { $"postgres://u:{Secret}@h/db?sslmode", "no value" },
        { $"postgres://u:{Secret}@h/db?SslMode=require", "parameter name" },
        { $"postgres://u:{Secret}@h/db?password=other", "'password' repeats" },
        { $"postgres://u:{Secret}@h/db?channel_binding=maybe", "'channel_binding'" },
        { $"postgres://u:{Secret}@h/db?target_session_attrs=any-old", "'target_session_attrs'" },
        { $"postgres://u:{Secret}@h/db/extra", "single database name" },
        { $"postgres://u:{Secret}@[::1/db", "IPv6" },
        { $"postgres://u:{Secret}@[::1],h2/db", "IPv6" },
        { $"postgres://u:{Secret}@h1,,h2/db", "empty host" },
        { "postgres://u:Sup3r%ZZecretPw@h/db", "percent-encoding" },
        { "postgres://u:Sup3r%C3ecretPw@h/db", "UTF-8" },
        { "postgres://u:Sup3r/ecretPw@h/db", "port" },
        { "postgres://u:Sup3r?ecretPw@h/db", "port" },
        { "postgres://u:12345?ecretPw@h/db", "parameter name" },
        { "postgres://u:Sup3r#ecretPw@h/db", "'#'" },
        { $"Host=h;Password={Secret};Bogus=1", "'bogus'" },
        { $"Host=h;Password={Secret};Port=abc", "'port'" },
        { $"Host=h;Password='{Secret}", "neither" },
        { $"Username=u;Password={Secret}", "no Host" },
    };

    [Theory]
    [MemberData(nameof(BadUrls))]
    public void A_bad_value_is_rejected_with_a_message_that_names_the_problem_and_never_the_password(string value, string expected)
    {
        var ex = Assert.Throws<InvalidDatabaseUrlException>(() => DatabaseUrl.Parse(value));

        Assert.Contains(expected, ex.Message, StringComparison.OrdinalIgnoreCase);
        foreach (string secretPart in new[] { Secret, "Sup3r", "ecretPw" })
        {
            Assert.DoesNotContain(secretPart, ex.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_setting_concerned_is_named_on_the_exception()
    {
        var ex = Assert.Throws<InvalidDatabaseUrlException>(() => DatabaseUrl.Parse("postgres://u:pw@h/db?sslmode=nope"));

        Assert.Equal("sslmode", ex.Setting);
    }

    [Fact]
    public void A_null_value_is_an_argument_null_error()
    {
        Assert.Throws<ArgumentNullException>(() => DatabaseUrl.Parse(null!));
    }
}
