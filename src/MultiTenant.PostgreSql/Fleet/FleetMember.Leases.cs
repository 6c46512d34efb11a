using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.Hosting;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>The lease keeper: renews every lease of this instance in one statement, stops the tenants whose lease could not be renewed before its local deadline (the watchdog), and loses leases without waiting for the tenants' drain.</summary>
internal sealed partial class FleetMember
{
    private async Task RenewLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            bool ok = true;
            if (!CoordinationPaused && !_superseded)
            {
                ok = await RenewAsync(stop).ConfigureAwait(false);
            }

            // After a failure retry sooner: the deadline is measured from the last successful renewal.
            var delay = ok ? _options.RenewInterval : TimeSpan.FromTicks(Math.Max(_options.RenewInterval.Ticks / 3, TimeSpan.FromMilliseconds(100).Ticks));
            if (!await DelayAsync(delay, stop).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>Renews every lease of this instance in one statement; returns whether it succeeded.</summary>
    internal async Task<bool> RenewAsync(CancellationToken stop)
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
            await _leaseLock.WaitAsync(token).ConfigureAwait(false);
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

        var orphans = new List<string>();
        var lost = new List<TenantId>();
        try
        {
            await using var connection = await _coordination.OpenConnectionAsync(token).ConfigureAwait(false);
            await using (var command = new NpgsqlCommand(Sql.Renew, connection))
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
            lock (_ownedGate)
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
            foreach (var tenant in returned.Keys)
            {
                orphans.Add(tenant.Value);
            }

            if (orphans.Count > 0)
            {
                orphans.Sort(StringComparer.Ordinal);
                await using var release = new NpgsqlCommand(Sql.Release, connection);
                release.CommandTimeout = _store.CommandTimeoutSeconds;
                release.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
                release.Parameters.Add(TextArray(orphans.ToArray()));
                await release.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException || (ex is OperationCanceledException && !stop.IsCancellationRequested))
        {
            FleetLog.RenewFailed(_logger, _owned.Count, ex);
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        finally
        {
            _leaseLock.Release();
        }

        if (lost.Count > 0)
        {
            Lose(lost, "not renewed: expired or taken over");
            Poke();
        }

        Interlocked.Increment(ref _renewals);
        return true;
    }

    private async Task WatchdogLoopAsync(CancellationToken stop)
    {
        var interval = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMilliseconds(250).Ticks, _options.SafetyMargin.Ticks / 4));
        var expired = new List<TenantId>();
        while (await DelayAsync(interval, stop).ConfigureAwait(false))
        {
            if (WatchdogPaused)
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
    /// Forgets the leases of <paramref name="tenants"/> (they are no longer this host's) and stops the tenants here in the background:
    /// the caller (the renew loop, the watchdog) never waits for a tenant's drain, so one slow handler cannot delay the renewal of the
    /// other leases. Each stop is bounded (<see cref="TenantCoordinatorOptions.OwnershipLostDrainTimeout"/>, the disconnect by the
    /// connect timeout); the tenant reports the ownership-lost error at once and is never activated again under the lost lease.
    /// </summary>
    private void Lose(IReadOnlyList<TenantId> tenants, string reason)
    {
        var lost = new List<TenantId>(tenants.Count);
        lock (_ownedGate)
        {
            foreach (var tenant in tenants)
            {
                if (_owned.TryRemove(tenant, out _))
                {
                    lost.Add(tenant);
                }
            }
        }

        if (lost.Count == 0 || _host is not { } host)
        {
            return;
        }

        foreach (var tenant in lost)
        {
            FleetLog.LeaseLost(_logger, tenant.Value, reason);
            var stop = host.DeactivateAsync(tenant, TenantDeactivationReason.OwnershipLost);
            if (!stop.IsCompleted)
            {
                _losing[stop] = 0;
                _ = stop.ContinueWith(static (t, s) => ((ConcurrentDictionary<Task, byte>)s!).TryRemove(t, out _), _losing, CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    /// <summary>A lease this host holds: its epoch, the start generation it runs, and its local monotonic stop deadline.</summary>
    private sealed class OwnedLease(long epoch, long generation, long deadline)
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
