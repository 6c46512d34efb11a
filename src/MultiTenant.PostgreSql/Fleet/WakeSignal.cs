namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// Wakes a loop that otherwise runs every interval: any number of <see cref="Wake"/> calls before the loop waits again coalesce into one
/// wake-up. The fleet's reconcile and relay loops use it.
/// </summary>
internal sealed class WakeSignal(TimeProvider time)
{
    // At most one pending wake-up: extra requests coalesce.
    private readonly SemaphoreSlim _signal = new(0, 1);

    /// <summary>Asks the loop to run now. Never blocks.</summary>
    public void Wake()
    {
        if (_signal.CurrentCount == 0)
        {
            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already requested.
            }
        }
    }

    /// <summary>Waits for a wake-up or for <paramref name="interval"/> (on the time provider), whichever comes first.</summary>
    /// <returns><see langword="false"/> when <paramref name="stop"/> was cancelled.</returns>
    public async Task<bool> WaitAsync(TimeSpan interval, CancellationToken stop)
    {
        using var tick = new CancellationTokenSource(interval, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, tick.Token);
        try
        {
            await _signal.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            // The periodic fallback.
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        return true;
    }
}
