using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>The lease keeper's acquisitions, activations under a held lease, releases and the fenced status writes of its leases.</summary>
internal sealed partial class LeaseKeeper
{
    /// <summary>
    /// Acquires the free or expired leases of <paramref name="tenants"/> (one round trip) and activates each acquired tenant under the
    /// gate with its epoch; returns how many were acquired.
    /// </summary>
    public async Task<int> AcquireAsync(
        IReadOnlyList<TenantId> tenants, string hostId, IReadOnlyDictionary<TenantId, long> generations, Action<TenantId, long> activate,
        CancellationToken cancellationToken)
    {
        var ids = tenants.Select(static t => t.Value).ToArray();
        Array.Sort(ids, StringComparer.Ordinal);
        var acquired = new List<(TenantId Tenant, long Epoch)>();
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long start = _time.GetTimestamp();
            await using (var batch = _coordination.CreateBatch())
            {
                batch.Timeout = _commandTimeoutSeconds;
                var ensure = new NpgsqlBatchCommand(_sql.EnsureLeaseRows);
                ensure.Parameters.Add(TextArray(ids));
                batch.BatchCommands.Add(ensure);
                var acquire = new NpgsqlBatchCommand(_sql.Acquire);
                acquire.Parameters.Add(TextArray(ids));
                acquire.Parameters.Add(new NpgsqlParameter<string> { TypedValue = hostId });
                acquire.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
                acquire.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = _options.LeaseTtl });
                batch.BatchCommands.Add(acquire);
                await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (TenantId.TryParse(reader.GetString(0), out var tenant))
                    {
                        acquired.Add((tenant, reader.GetInt64(1)));
                    }
                }
            }

            long deadline = start + _deadlineTicks;
            lock (_gate)
            {
                foreach (var (tenant, epoch) in acquired)
                {
                    _owned[tenant] = new OwnedLease(epoch, generations.GetValueOrDefault(tenant), deadline);
                    activate(tenant, epoch);
                }
            }
        }
        finally
        {
            _lock.Release();
        }

        if (acquired.Count > 0)
        {
            FleetLog.LeasesAcquired(_logger, acquired.Count);
        }

        return acquired.Count;
    }

    /// <summary>
    /// Activates <paramref name="tenant"/> again under <paramref name="lease"/> for start <paramref name="generation"/>, if that lease is
    /// still held here and its deadline has not passed; returns whether it did.
    /// </summary>
    public bool TryActivate(TenantId tenant, OwnedLease lease, long generation, Action<TenantId, long> activate)
    {
        lock (_gate)
        {
            if (!_owned.TryGetValue(tenant, out var current) || !ReferenceEquals(current, lease) || _time.GetTimestamp() >= lease.Deadline)
            {
                return false;
            }

            lease.Generation = generation;
            activate(tenant, lease.Epoch);
            return true;
        }
    }

    /// <summary>
    /// Releases the leases of <paramref name="tenants"/> (stopped here already; <paramref name="finals"/> are their final statuses, by
    /// index), writing those statuses under the leases and notifying, in one round trip; returns how many leases were released.
    /// </summary>
    public async Task<int> ReleaseAsync(IReadOnlyList<TenantId> tenants, IReadOnlyList<TenantStatus?> finals, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var statuses = new List<(TenantStatus, long)>(tenants.Count);
            var ids = new List<string>(tenants.Count);
            for (int i = 0; i < tenants.Count; i++)
            {
                if (_owned.TryGetValue(tenants[i], out var lease))
                {
                    ids.Add(tenants[i].Value);
                    if (finals[i] is { } status)
                    {
                        statuses.Add((status, lease.Epoch));
                    }
                }
            }

            if (ids.Count == 0)
            {
                return 0;
            }

            ids.Sort(StringComparer.Ordinal);
            var release = new NpgsqlBatchCommand(_sql.Release);
            release.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
            release.Parameters.Add(TextArray(ids.ToArray()));
            await ReleaseWithStatusesAsync(statuses, release, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                foreach (var tenant in tenants)
                {
                    _owned.TryRemove(tenant, out _);
                }
            }

            FleetLog.LeasesReleased(_logger, ids.Count, "stopped or handed over");
            return ids.Count;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// On shutdown, after the tenants stopped: writes their final statuses (<paramref name="finalStatus"/>) under their leases, releases
    /// every lease of this instance and notifies, in one round trip; then holds none. Returns how many leases were released (0 when the
    /// database could not be reached: the leases then expire by themselves).
    /// </summary>
    public async Task<int> ReleaseAllAsync(Func<TenantId, TenantStatus?> finalStatus, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var finals = new List<(TenantStatus, long)>();
            foreach (var (tenant, lease) in _owned)
            {
                if (finalStatus(tenant) is { } status)
                {
                    finals.Add((status, lease.Epoch));
                }
            }

            var release = new NpgsqlBatchCommand(_sql.ReleaseAll);
            release.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
            await ReleaseWithStatusesAsync(finals, release, cancellationToken).ConfigureAwait(false);
            return release.RecordsAffected;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            FleetLog.CoordinationFailed(_logger, "release on shutdown", ex);
            return 0;
        }
        finally
        {
            lock (_gate)
            {
                _owned.Clear();
            }

            _lock.Release();
        }
    }

    /// <summary>Writes statuses fenced by their lease epochs on the store's pool (statuses whose lease is gone are dropped by the database).</summary>
    public async Task WriteStatusesAsync(PostgreSqlTenantStore store, IReadOnlyList<(TenantStatus Status, long Epoch)> statuses, CancellationToken cancellationToken)
    {
        await using var own = store.DataSource.CreateBatch();
        own.Timeout = store.CommandTimeoutSeconds;
        own.BatchCommands.Add(StatusCommand(statuses));
        await own.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One round trip: the final <paramref name="statuses"/> under their leases, then <paramref name="release"/>, then a notification.</summary>
    private async Task ReleaseWithStatusesAsync(
        IReadOnlyList<(TenantStatus Status, long Epoch)> statuses, NpgsqlBatchCommand release, CancellationToken cancellationToken)
    {
        await using var batch = _coordination.CreateBatch();
        batch.Timeout = _commandTimeoutSeconds;
        if (statuses.Count > 0)
        {
            batch.BatchCommands.Add(StatusCommand(statuses));
        }

        batch.BatchCommands.Add(release);
        batch.BatchCommands.Add(_channel.Notify("release"));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The fenced status upsert of <paramref name="statuses"/>: a row is written only while its lease is held with that epoch.</summary>
    public NpgsqlBatchCommand StatusCommand(IReadOnlyList<(TenantStatus Status, long Epoch)> statuses)
    {
        // One row per tenant (ON CONFLICT cannot touch a row twice): the last one wins.
        var latest = new Dictionary<TenantId, (TenantStatus Status, long Epoch)>(statuses.Count);
        foreach (var entry in statuses)
        {
            latest[entry.Status.BusinessId] = entry;
        }

        var rows = new List<TenantStatus>(latest.Count);
        var epochs = new long[latest.Count];
        foreach (var (status, epoch) in latest.Values)
        {
            epochs[rows.Count] = epoch;
            rows.Add(status);
        }

        var command = new NpgsqlBatchCommand(_sql.UpsertStatusesFenced);
        StatusRows.AddArrays(command.Parameters, rows);
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = epochs, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
        return command;
    }

    private static NpgsqlParameter<string[]> TextArray(string[] values) =>
        new() { TypedValue = values, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };

    /// <summary>A lease this instance holds: its epoch, the start generation it runs, and its local monotonic stop deadline.</summary>
    internal sealed class OwnedLease(long epoch, long generation, long deadline)
    {
        private long _deadline = deadline;

        public long Epoch { get; } = epoch;

        public long Generation { get; set; } = generation;

        public long Deadline
        {
            get => Volatile.Read(ref _deadline);
            set => Volatile.Write(ref _deadline, value);
        }
    }
}
