namespace MultiTenant;

/// <summary>The lifecycle state of a tenant (SPEC §1).</summary>
public enum TenantState
{
    /// <summary>Not running.</summary>
    Stopped = 0,

    /// <summary>Initialising its client or connecting for the first time.</summary>
    Starting = 1,

    /// <summary>Connected to WhatsApp.</summary>
    Connected = 2,

    /// <summary>The connection was lost; the supervisor is reconnecting with backoff.</summary>
    Disconnected = 3,

    /// <summary>A fatal condition (logged out, no paired device, credentials revoked, ...). No retry until started again.</summary>
    Error = 4,
}

/// <summary>Wire names of <see cref="TenantState"/>.</summary>
public static class TenantStateNames
{
    /// <summary>The lower-case name used in JSON, metrics and logs: <c>stopped</c>, <c>starting</c>, <c>connected</c>, <c>disconnected</c>, <c>error</c>.</summary>
    public static string ToWireName(this TenantState state) => state switch
    {
        TenantState.Stopped => "stopped",
        TenantState.Starting => "starting",
        TenantState.Connected => "connected",
        TenantState.Disconnected => "disconnected",
        TenantState.Error => "error",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "Unknown tenant state."),
    };
}
