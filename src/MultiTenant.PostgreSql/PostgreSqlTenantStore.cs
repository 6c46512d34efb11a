using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.Storage;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql;

/// <summary>
/// The PostgreSQL store: the registry of desired state, the statuses and the per-tenant client state, in tables of one schema
/// (default <c>multitenant</c>) that every host of a fleet shares, over one <see cref="NpgsqlDataSource"/> (its pool bounds the
/// connections used, however many tenants run). Thread-safe. Timestamps are kept to the microsecond.
/// </summary>
/// <remarks>
/// Every statement is parameterised and every row is keyed by <c>business_id</c>; the business id of a client state row always comes
/// from the <see cref="ITenantStateStore"/> the client was given, never from a key or namespace. The schema is created and migrated by
/// <see cref="MigrateAsync"/>, which <c>UsePostgreSql()</c> runs when the host starts.
/// </remarks>
public sealed partial class PostgreSqlTenantStore : ITenantRegistry, ITenantStatusStore, ITenantStateStoreProvider, ITenantStoreHealth, ITenantPurgeable, IDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgreSqlStoreOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly NpgsqlPoolStatistics _pool;
    private readonly int _maxPoolSize;
    private int _unhealthy;

    /// <summary>Creates the store over <paramref name="dataSource"/>. Does not touch the database.</summary>
    /// <param name="dataSource">The data source (its pool is shared by every store operation). Not disposed by the store.</param>
    /// <param name="options">The options; default <see cref="PostgreSqlStoreOptions"/>'s defaults. Copied and validated.</param>
    /// <param name="timeProvider">The clock for latency and timeouts; default <see cref="TimeProvider.System"/>.</param>
    /// <param name="logger">The logger; default none.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The options are not valid.</exception>
    public PostgreSqlTenantStore(
        NpgsqlDataSource dataSource,
        PostgreSqlStoreOptions? options = null,
        TimeProvider? timeProvider = null,
        ILogger<PostgreSqlTenantStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        options ??= new PostgreSqlStoreOptions();
        PostgreSqlStoreOptionsValidator.ThrowIfInvalid(options);
        _dataSource = dataSource;
        _options = new PostgreSqlStoreOptions
        {
            Schema = options.Schema,
            EnableRowLevelSecurity = options.EnableRowLevelSecurity,
            ApplyMigrationsOnStart = options.ApplyMigrationsOnStart,
            CommandTimeout = options.CommandTimeout,
            HealthCheckTimeout = options.HealthCheckTimeout,
            DataSourceName = options.DataSourceName,
        };
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        CommandTimeoutSeconds = (int)Math.Ceiling(_options.CommandTimeout.TotalSeconds);
        Sql = new PostgreSqlStatements(_options.Schema);

        var settings = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        _maxPoolSize = settings.Pooling ? settings.MaxPoolSize : 0;
        _pool = new NpgsqlPoolStatistics(_options.DataSourceName ?? dataSource.ConnectionString);
    }

    /// <inheritdoc />
    public string Backend => "postgresql";

    /// <summary>The schema holding the store's tables.</summary>
    public string Schema => _options.Schema;

    /// <summary>
    /// The pool figures read from Npgsql's metrics (<c>db.client.connection.count</c>, <c>db.client.connection.max</c>), without a round
    /// trip; <see langword="null"/> when the data source does not pool connections.
    /// </summary>
    public StorePoolStatistics? PoolStatistics =>
        _pool.Read() ?? (_maxPoolSize > 0 ? new StorePoolStatistics(0, 0, _maxPoolSize) : null);

    internal PostgreSqlStatements Sql { get; }

    internal int CommandTimeoutSeconds { get; }

    internal NpgsqlDataSource DataSource => _dataSource;

    /// <summary>
    /// A batch of two statements run in one implicit transaction: the tenant scope for row-level security, then <paramref name="sql"/>
    /// (whose <c>$1</c> is bound to <paramref name="tenant"/> here; the caller adds <c>$2</c>…). Every client-state statement goes
    /// through it, so the business id never comes from a caller's key or namespace.
    /// </summary>
    internal NpgsqlBatch CreateTenantScopedBatch(TenantId tenant, string sql, out NpgsqlBatchCommand command)
    {
        var batch = _dataSource.CreateBatch();
        batch.Timeout = CommandTimeoutSeconds;
        var scope = new NpgsqlBatchCommand(Sql.SetTenantScope);
        scope.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        batch.BatchCommands.Add(scope);
        command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        batch.BatchCommands.Add(command);
        return batch;
    }

    /// <summary>
    /// Creates the schema and applies the missing migrations (numbered SQL files embedded in this assembly) in one transaction under
    /// an advisory lock, recording each in <c>schema_migrations</c>; turns row-level security on when the options ask for it.
    /// Idempotent, and safe when several hosts run it at once. Each migration statement may take up to 5 minutes.
    /// </summary>
    /// <returns>The versions applied; empty when the schema was already up to date.</returns>
    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken = default) =>
        await PostgreSqlMigrator.MigrateAsync(_dataSource, _options, _logger, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask SetDesiredStateAsync(TenantId tenant, bool running, CancellationToken cancellationToken)
    {
        ThrowIfDefault(tenant);
        await using var command = CreateCommand(Sql.SetDesiredState);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = running });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<TenantId>> ListDesiredRunningAsync(CancellationToken cancellationToken)
    {
        await using var command = CreateCommand(Sql.ListDesiredRunning);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var tenants = new List<TenantId>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (TenantId.TryParse(reader.GetString(0), out var tenant))
            {
                tenants.Add(tenant);
            }
            else
            {
                Log.UnreadableRowSkipped(_logger, "tenants");
            }
        }

        tenants.Sort();
        return tenants;
    }

    /// <summary>
    /// Writes the given statuses in one statement (one round trip, however many there are); when a tenant appears more than once, the
    /// last one in the collection wins.
    /// </summary>
    public async ValueTask UpsertAsync(IReadOnlyCollection<TenantStatus> statuses, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(statuses);
        if (statuses.Count == 0)
        {
            return;
        }

        // One row per tenant: ON CONFLICT cannot touch a row twice in one statement. The last status of a tenant wins.
        var latest = new Dictionary<TenantId, TenantStatus>(statuses.Count);
        foreach (var status in statuses)
        {
            ArgumentNullException.ThrowIfNull(status, nameof(statuses));
            ThrowIfDefault(status.BusinessId);
            latest[status.BusinessId] = status;
        }

        await using var command = CreateCommand(Sql.UpsertStatuses);
        StatusRows.AddArrays(command.Parameters, [.. latest.Values]);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<TenantStatus?> GetAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        ThrowIfDefault(tenant);
        await using var command = CreateCommand(Sql.GetStatus);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadStatus(reader) : null;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<TenantStatus>> ListAsync(CancellationToken cancellationToken)
    {
        await using var command = CreateCommand(Sql.ListStatuses);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var statuses = new List<TenantStatus>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (ReadStatus(reader) is { } status)
            {
                statuses.Add(status);
            }
        }

        statuses.Sort(static (a, b) => a.BusinessId.CompareTo(b.BusinessId));
        return statuses;
    }

    /// <inheritdoc />
    /// <remarks>
    /// A keyset query on the primary key (<c>business_id &gt; $1 ORDER BY business_id LIMIT $3</c>), so a page costs the same at any
    /// depth. A state filter is applied while walking the key: quick for states most tenants are in, a longer walk for a rare one.
    /// </remarks>
    public async ValueTask<TenantStatusPage> ListPageAsync(TenantStatusQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var command = CreateCommand(Sql.ListStatusPage);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = query.After?.Value ?? string.Empty });
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = query.State?.ToWireName(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = query.Limit + 1 });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<TenantStatus>(Math.Min(query.Limit, 1024));
        int read = 0;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (++read <= query.Limit && ReadStatus(reader) is { } status)
            {
                rows.Add(status);
            }
        }

        // A row past the limit says more follow.
        return new TenantStatusPage(rows, read > query.Limit && rows.Count > 0 ? rows[^1].BusinessId : null);
    }

    /// <summary>
    /// The client state store bound to <paramref name="tenant"/>: every statement it runs takes the business id from this binding (and
    /// sets the transaction-local <c>multitenant.business_id</c> that row-level security checks), never from a namespace or key.
    /// </summary>
    public ITenantStateStore GetStore(TenantId tenant)
    {
        ThrowIfDefault(tenant);
        return new PostgreSqlTenantStateStore(this, tenant);
    }

    /// <summary>
    /// Probes the database with <c>SELECT 1</c> (connection included, bounded by <see cref="PostgreSqlStoreOptions.HealthCheckTimeout"/>)
    /// and reports the latency and the pool figures. Never throws for a database problem: an unreachable or slow database gives an
    /// unhealthy report whose problem text carries no exception text; idle pooled connections are then cleared, so the pool recovers by
    /// itself when the database returns.
    /// </summary>
    public async ValueTask<StoreHealthReport> CheckAsync(CancellationToken cancellationToken)
    {
        long start = _timeProvider.GetTimestamp();
        using var timeout = new CancellationTokenSource(_options.HealthCheckTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await using var command = _dataSource.CreateCommand("SELECT 1");
            command.CommandTimeout = Math.Max(1, (int)Math.Ceiling(_options.HealthCheckTimeout.TotalSeconds));
            await command.ExecuteScalarAsync(linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            var elapsed = _timeProvider.GetElapsedTime(start);
            string problem = timeout.IsCancellationRequested
                ? string.Create(CultureInfo.InvariantCulture, $"The PostgreSQL server did not answer within {_options.HealthCheckTimeout.TotalMilliseconds:0} ms.")
                : "The PostgreSQL server could not be reached or refused the probe.";
            Interlocked.Exchange(ref _unhealthy, 1);
            Log.HealthCheckFailed(_logger, problem, ex);

            // Connections idle in the pool are likely broken (a restarted server); drop them so the next use opens fresh ones.
            _dataSource.Clear();
            var failedPool = PoolStatistics ?? default;
            return new StoreHealthReport(false, elapsed, failedPool.Acquired, failedPool.Idle, failedPool.Max, problem);
        }

        var latency = _timeProvider.GetElapsedTime(start);
        if (Interlocked.Exchange(ref _unhealthy, 0) == 1)
        {
            Log.HealthRecovered(_logger);
        }

        var pool = PoolStatistics ?? default;
        return new StoreHealthReport(true, latency, pool.Acquired, pool.Idle, pool.Max);
    }

    /// <summary>Stops observing Npgsql's pool metrics. The data source is not disposed (it belongs to the caller or to DI).</summary>
    public void Dispose() => _pool.Dispose();

    internal NpgsqlCommand CreateCommand(string sql)
    {
        var command = _dataSource.CreateCommand(sql);
        command.CommandTimeout = CommandTimeoutSeconds;
        return command;
    }

    /// <summary>Reads one status row (business id, state, started at, updated at, error, host); skips an unreadable one (logged).</summary>
    internal TenantStatus? ReadStatus(NpgsqlDataReader reader)
    {
        if (!TenantId.TryParse(reader.GetString(0), out var tenant))
        {
            Log.UnreadableRowSkipped(_logger, "tenant_status");
            return null;
        }

        var state = StatusRows.ParseState(reader.GetString(1));
        if (state is null)
        {
            Log.UnreadableRowSkipped(_logger, "tenant_status");
            return null;
        }

        return new TenantStatus(
            tenant,
            state.Value,
            reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2),
            reader.GetFieldValue<DateTimeOffset>(3),
            reader.IsDBNull(4) ? null : reader.GetString(4),
            reader.IsDBNull(5) ? null : reader.GetString(5));
    }

    /// <summary>Text made storable in PostgreSQL (see <see cref="StatusRows.StorableText"/>, the one implementation).</summary>
    internal static string? StorableText(string? text) => StatusRows.StorableText(text);

    private static void ThrowIfDefault(TenantId tenant)
    {
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) names no tenant.", nameof(tenant));
        }
    }
}

/// <summary>The store's SQL, schema-qualified once. Every value is a parameter; the schema name is a validated, quoted identifier.</summary>
internal sealed class PostgreSqlStatements
{
    public PostgreSqlStatements(string schema)
    {
        string s = PostgreSqlMigrator.QuoteIdentifier(schema);
        SetDesiredState = $"""
            INSERT INTO {s}.tenants (business_id, desired_running) VALUES ($1, $2)
            ON CONFLICT (business_id) DO UPDATE SET desired_running = EXCLUDED.desired_running, updated_at = now()
            """;
        ListDesiredRunning = $"SELECT business_id FROM {s}.tenants WHERE desired_running ORDER BY business_id";
        UpsertStatuses = $"""
            INSERT INTO {s}.tenant_status AS t (business_id, state, started_at, updated_at, error, host)
            SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[])
            ON CONFLICT (business_id) DO UPDATE SET
                state = EXCLUDED.state, started_at = EXCLUDED.started_at, updated_at = EXCLUDED.updated_at,
                error = EXCLUDED.error, host = EXCLUDED.host
            """;
        GetStatus = $"SELECT business_id, state, started_at, updated_at, error, host FROM {s}.tenant_status WHERE business_id = $1";
        ListStatuses = $"SELECT business_id, state, started_at, updated_at, error, host FROM {s}.tenant_status ORDER BY business_id";
        ListStatusPage = $"""
            SELECT business_id, state, started_at, updated_at, error, host FROM {s}.tenant_status
            WHERE business_id > $1 AND ($2::text IS NULL OR state = $2) ORDER BY business_id LIMIT $3
            """;

        // Client state: $1 is always the bound tenant.
        GetState = $"SELECT value FROM {s}.client_state WHERE business_id = $1 AND namespace = $2 AND key = $3";
        SetState = $"""
            INSERT INTO {s}.client_state (business_id, namespace, key, value) VALUES ($1, $2, $3, $4)
            ON CONFLICT (business_id, namespace, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
            """;
        DeleteState = $"DELETE FROM {s}.client_state WHERE business_id = $1 AND namespace = $2 AND key = $3";
        ListStateKeys = $"SELECT key FROM {s}.client_state WHERE business_id = $1 AND namespace = $2";
        ClearState = $"DELETE FROM {s}.client_state WHERE business_id = $1";
    }

    /// <summary>Scopes the current (implicit or explicit) transaction to one tenant, for row-level security.</summary>
    public string SetTenantScope { get; } = "SELECT set_config('multitenant.business_id', $1, true)";

    public string SetDesiredState { get; }

    public string ListDesiredRunning { get; }

    public string UpsertStatuses { get; }

    public string GetStatus { get; }

    public string ListStatuses { get; }

    /// <summary>One keyset page of statuses: <c>$1</c> the cursor (empty: from the first), <c>$2</c> a state or null, <c>$3</c> the row limit.</summary>
    public string ListStatusPage { get; }

    public string GetState { get; }

    public string SetState { get; }

    public string DeleteState { get; }

    public string ListStateKeys { get; }

    public string ClearState { get; }
}
