using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using MultiTenant.Hosting;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// The lease keeper, one job: the leases this host instance holds. It acquires and releases them, renews all of them in one statement
/// every <see cref="FleetOptions.RenewInterval"/>, and its watchdog gives up every lease whose local deadline passed. A lost lease is
/// forgotten at once and handed to <c>onLost</c>, which stops the tenant in the background: neither loop ever waits for a tenant.
/// </summary>
/// <remarks>
/// Safety rests on two rules. (1) A tenant is activated only under <see cref="_gate"/> while its lease is held here, and a lease is
/// removed under the same gate before its tenant is deactivated. (2) Every lease has a local monotonic deadline (start of the
/// acquisition or of the last renewal that returned it + TTL − safety margin); the watchdog gives up a lease whose deadline passed,
/// before the database could judge it expired and let another host acquire it. Writes carry the lease epoch, so a host paused past
/// both is refused by the database.
/// </remarks>
internal sealed partial class LeaseKeeper
{
    private readonly NpgsqlDataSource _coordination;
    private readonly FleetStatements _sql;
    private readonly FleetChannel _channel;
    private readonly FleetOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly int _commandTimeoutSeconds;
    private readonly Func<bool> _renewalsPaused;
    private readonly Func<bool> _watchdogPaused;
    private readonly Action<IReadOnlyList<TenantId>> _onLost;
    private readonly ConcurrentDictionary<TenantId, OwnedLease> _owned = new();
    private readonly Lock _gate = new();

    // Serialises this instance's lease-changing statements (acquire, renew, release), so they never lock its rows in different orders.
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly long _deadlineTicks;
    private long _renewals;

    /// <param name="coordination">The coordination data source.</param>
    /// <param name="sql">The fleet's statements.</param>
    /// <param name="channel">Releases notify on it.</param>
    /// <param name="options">Validated fleet options.</param>
    /// <param name="time">The clock of the loops and deadlines.</param>
    /// <param name="logger">Logs acquisitions, releases, losses and failed renewals.</param>
    /// <param name="instanceId">This host instance.</param>
    /// <param name="commandTimeoutSeconds">The store's command timeout.</param>
    /// <param name="renewalsPaused">Whether to skip renewals now (a superseded instance; a test's stalled coordination).</param>
    /// <param name="watchdogPaused">Whether to skip the watchdog now (a test's frozen host).</param>
    /// <param name="onLost">Stops the tenants whose leases were lost; must not block.</param>
    public LeaseKeeper(
        NpgsqlDataSource coordination, FleetStatements sql, FleetChannel channel, FleetOptions options, TimeProvider time, ILogger logger,
        Guid instanceId, int commandTimeoutSeconds, Func<bool> renewalsPaused, Func<bool> watchdogPaused, Action<IReadOnlyList<TenantId>> onLost)
    {
        _coordination = coordination;
        _sql = sql;
        _channel = channel;
        _options = options;
        _time = time;
        _logger = logger;
        InstanceId = instanceId;
        _commandTimeoutSeconds = commandTimeoutSeconds;
        _renewalsPaused = renewalsPaused;
        _watchdogPaused = watchdogPaused;
        _onLost = onLost;
        _deadlineTicks = (long)((options.LeaseTtl - options.SafetyMargin).TotalSeconds * time.TimestampFrequency);
    }

    /// <summary>This host instance: the owner of the leases in the database.</summary>
    public Guid InstanceId { get; }

    /// <summary>How many leases are held.</summary>
    public int Count => _owned.Count;

    /// <summary>The tenants whose leases are held.</summary>
    public ICollection<TenantId> Tenants => _owned.Keys;

    /// <summary>How many renewals succeeded so far.</summary>
    public long Renewals => Interlocked.Read(ref _renewals);

    /// <summary>The epoch of the lease of <paramref name="tenant"/>, or <see langword="null"/> when none is held.</summary>
    public long? GetEpoch(TenantId tenant) => _owned.TryGetValue(tenant, out var lease) ? lease.Epoch : null;

    /// <summary>
    /// Whether the lease of <paramref name="tenant"/> is held and its local deadline has not passed. A host thawed after a freeze (SIGSTOP,
    /// a VM pause) is past its deadlines before its watchdog ran again: it must not act for (send through) a tenant it may have lost.
    /// </summary>
    public bool Holds(TenantId tenant) => _owned.TryGetValue(tenant, out var lease) && _time.GetTimestamp() < lease.Deadline;

    /// <summary>The lease of <paramref name="tenant"/>, when held.</summary>
    public bool TryGet(TenantId tenant, [MaybeNullWhen(false)] out OwnedLease lease) => _owned.TryGetValue(tenant, out lease);

    /// <summary>Renews every <see cref="FleetOptions.RenewInterval"/> (sooner after a failure) until <paramref name="stop"/>.</summary>
    public async Task RunRenewalsAsync(CancellationToken stop)
    {
        var minimum = TimeSpan.FromMilliseconds(100);
        while (!stop.IsCancellationRequested)
        {
            long start = _time.GetTimestamp();
            bool ok = _renewalsPaused() || await RenewAsync(stop).ConfigureAwait(false);

            // Renewals start every interval (measured from the start of each attempt, so a slow statement does not stretch the period).
            // After a failure retry sooner, a third of the interval after the failed attempt began (an attempt that timed out is retried
            // at once): the deadline is measured from the start of the last successful renewal, so a retry must not wait needlessly.
            var delay = (ok ? _options.RenewInterval : _options.RenewInterval / 3) - _time.GetElapsedTime(start);
            if (delay < minimum)
            {
                delay = minimum;
            }
            if (!await FleetLoop.DelayAsync(delay, _time, stop).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>Renews every lease of this instance in one statement; returns whether it succeeded.</summary>
    public async Task<bool> RenewAsync(CancellationToken stop)
    {
        var returned = new Dictionary<TenantId, long>();

        // The deadline bounds the whole attempt: the wait for the lease lock, for a connection, and the statement. A renewal that takes
        // longer than the safety margin is useless (the watchdog measures from its start), so it gives up then.
        long start = _time.GetTimestamp();
        using var deadline = new CancellationTokenSource(_options.SafetyMargin, _time);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop, deadline.Token);
        var token = attempt.Token;
        try
        {
            await _lock.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            FleetLog.RenewTimedOut(_logger, _owned.Count, _options.SafetyMargin);
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        var lost = new List<TenantId>();
        try
        {
            await using var connection = await _coordination.OpenConnectionAsync(token).ConfigureAwait(false);
            await using (var command = new NpgsqlCommand(_sql.Renew, connection))
            {
                command.CommandTimeout = Math.Max(1, (int)Math.Ceiling(_options.SafetyMargin.TotalSeconds));
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
                command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = _options.LeaseTtl });
                await using var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
                while (await reader.ReadAsync(token).ConfigureAwait(false))
                {
                    if (TenantId.TryParse(reader.GetString(0), out var tenant))
                    {
                        returned[tenant] = reader.GetInt64(1);
                    }
                }
            }

            long renewedUntil = start + _deadlineTicks;
            lock (_gate)
            {
                foreach (var (tenant, lease) in _owned)
                {
                    if (returned.Remove(tenant, out long epoch) && epoch == lease.Epoch)
                    {
                        lease.Deadline = Math.Max(lease.Deadline, renewedUntil);
                    }
                    else
                    {
                        lost.Add(tenant);
                    }
                }
            }

            // Leases the database says are ours but we do not run (an acquisition whose answer was lost): give them back.
            if (returned.Count > 0)
            {
                var orphans = returned.Keys.Select(static t => t.Value).ToArray();
                Array.Sort(orphans, StringComparer.Ordinal);
                await using var release = new NpgsqlCommand(_sql.Release, connection);
                release.CommandTimeout = _commandTimeoutSeconds;
                release.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
                release.Parameters.Add(TextArray(orphans));
                await release.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException || (ex is OperationCanceledException && !stop.IsCancellationRequested))
        {
            FleetLog.RenewFailed(_logger, _owned.Count, ex);
            FleetLoop.ClearPoolIfConnectionBroken(_coordination, ex);
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        finally
        {
            _lock.Release();
        }

        if (lost.Count > 0)
        {
            Lose(lost, "not renewed: expired or taken over");
        }

        Interlocked.Increment(ref _renewals);
        return true;
    }

    /// <summary>Gives up every lease whose local deadline passed, a few times per safety margin, until <paramref name="stop"/>.</summary>
    public async Task RunWatchdogAsync(CancellationToken stop)
    {
        var interval = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMilliseconds(250).Ticks, _options.SafetyMargin.Ticks / 4));
        var expired = new List<TenantId>();
        while (await FleetLoop.DelayAsync(interval, _time, stop).ConfigureAwait(false))
        {
            if (_watchdogPaused())
            {
                continue;
            }

            long now = _time.GetTimestamp();
            expired.Clear();
            foreach (var (tenant, lease) in _owned)
            {
                if (now >= lease.Deadline)
                {
                    expired.Add(tenant);
                }
            }

            if (expired.Count > 0)
            {
                Lose(expired.ToArray(), "no renewal before the safety deadline");
            }
        }
    }

    /// <summary>
    /// Forgets the leases of <paramref name="tenants"/> (they are no longer this host's) and hands the ones that were held to
    /// <c>onLost</c>, which stops them in the background.
    /// </summary>
    public void Lose(IReadOnlyList<TenantId> tenants, string reason)
    {
        var lost = new List<TenantId>(tenants.Count);
        lock (_gate)
        {
            foreach (var tenant in tenants)
            {
                if (_owned.TryRemove(tenant, out _))
                {
                    lost.Add(tenant);
                }
            }
        }

        foreach (var tenant in lost)
        {
            FleetLog.LeaseLost(_logger, tenant.Value, reason);
        }

        if (lost.Count > 0)
        {
            _onLost(lost);
        }
    }
}
