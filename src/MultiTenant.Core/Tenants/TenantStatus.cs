namespace MultiTenant;

/// <summary>
/// An immutable snapshot of a tenant's status. A new instance is published on every transition, so reads are lock-free.
/// </summary>
/// <param name="BusinessId">The tenant.</param>
/// <param name="State">The lifecycle state.</param>
/// <param name="StartedAt">When the tenant was last started (UTC), or <see langword="null"/> if it never ran.</param>
/// <param name="UpdatedAt">When this status was produced (UTC).</param>
/// <param name="Error">The last error, when set: the reason for <see cref="TenantState.Error"/> or for the last disconnect.</param>
/// <param name="Host">The id of the host that owns the tenant.</param>
public sealed record TenantStatus(
    TenantId BusinessId,
    TenantState State,
    DateTimeOffset? StartedAt,
    DateTimeOffset UpdatedAt,
    string? Error,
    string? Host)
{
    /// <summary>Whether the tenant is running on some host (any state but <see cref="TenantState.Stopped"/> and <see cref="TenantState.Error"/>).</summary>
    public bool IsRunning => State is TenantState.Starting or TenantState.Connected or TenantState.Disconnected;
}
