namespace MultiTenant;

/// <summary>
/// A start was refused because as many tenants as <see cref="Hosting.TenantCoordinatorOptions.MaxTenants"/> allows are running
/// (counted in the store, so across every host of a fleet). Stop a tenant, or raise the limit, before starting another.
/// </summary>
public sealed class TenantLimitReachedException : Exception
{
    /// <summary>Creates the exception for a limit of <paramref name="maxTenants"/>.</summary>
    public TenantLimitReachedException(int maxTenants)
        : base($"The maximum of {maxTenants} running tenants is reached; stop a tenant before starting another.") => MaxTenants = maxTenants;

    /// <summary>The limit that was reached.</summary>
    public int MaxTenants { get; }
}
