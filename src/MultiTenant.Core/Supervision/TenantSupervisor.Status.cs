namespace MultiTenant.Supervision;

/// <summary>The supervisor's status: published atomically, counted by the coordinator, and retired once stopped and written.</summary>
internal sealed partial class TenantSupervisor
{
    /// <summary>
    /// Adds the initial state (a stored <see cref="TenantState.Error"/>) to the coordinator's counts, once. Called by the coordinator
    /// on the supervisor it keeps: <c>GetOrAdd</c> may build several and throw all but one away, and those must count nothing.
    /// </summary>
    public void CountInitialState()
    {
        lock (_gate)
        {
            CountInitialStateLocked();
        }
    }

    /// <summary>
    /// Retires the supervisor when it is stopped and still shows <paramref name="written"/> (the status the store now has), so the
    /// coordinator can forget it; a retired supervisor never starts again. <see langword="false"/> when a start or a newer status came.
    /// </summary>
    public bool TryRetire(TenantStatus written)
    {
        lock (_gate)
        {
            if (!_running && ReferenceEquals(_status, written) && _status.State == TenantState.Stopped)
            {
                _retired = true;
            }

            return _retired;
        }
    }

    private void EndRunInError(long generation, CancellationTokenSource runCts, string error)
    {
        lock (_gate)
        {
            if (_generation == generation)
            {
                _running = false;
                if (ReferenceEquals(_runCts, runCts))
                {
                    _runCts = null;
                }

                PublishLocked(_status with { State = TenantState.Error, Error = error, UpdatedAt = _owner.TimeProvider.GetUtcNow() });
            }
        }
    }

    private void Publish(long generation, TenantState state, string? error)
    {
        lock (_gate)
        {
            if (_generation == generation && _running)
            {
                PublishLocked(_status with { State = state, Error = error, UpdatedAt = _owner.TimeProvider.GetUtcNow() });
            }
        }
    }

    private void CountInitialStateLocked()
    {
        if (!_initialStateCounted)
        {
            _initialStateCounted = true;
            if (_status.State != TenantState.Stopped)
            {
                _owner.CountInitialState(_status.State);
            }
        }
    }

    private void PublishLocked(TenantStatus next)
    {
        CountInitialStateLocked(); // the transition below takes the initial state off the counts
        var previous = _status;
        Volatile.Write(ref _status, next);
        _owner.OnStatusChanged(previous, next);
    }
}
