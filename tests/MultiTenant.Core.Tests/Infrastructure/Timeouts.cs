namespace MultiTenant.Tests.Infrastructure;

/// <summary>Safety timeouts: a test awaits signals, and these only turn a hang into a failure.</summary>
internal static class Timeouts
{
    /// <summary>How long a test waits for a signal before it fails (wall clock; never used to let time pass).</summary>
    public static readonly TimeSpan Safety = TimeSpan.FromSeconds(30);

    /// <summary>Awaits <paramref name="task"/> or fails after <see cref="Safety"/>.</summary>
    public static Task WithTimeout(this Task task) => task.WaitAsync(Safety);

    /// <summary>Awaits <paramref name="task"/> or fails after <see cref="Safety"/>.</summary>
    public static Task<T> WithTimeout<T>(this Task<T> task) => task.WaitAsync(Safety);

    /// <summary>Awaits <paramref name="task"/> or fails after <see cref="Safety"/>.</summary>
    public static Task WithTimeout(this ValueTask task) => task.AsTask().WaitAsync(Safety);

    /// <summary>Awaits <paramref name="task"/> or fails after <see cref="Safety"/>.</summary>
    public static Task<T> WithTimeout<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(Safety);
}
