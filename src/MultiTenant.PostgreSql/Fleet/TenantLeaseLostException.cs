namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// A write of a tenant's state was refused because this host no longer holds the tenant's lease with the epoch the write carries:
/// the lease expired (for example while the host was paused or cut off from the database) or another host acquired it since. The
/// caller must stop working for the tenant; its new owner has the state.
/// </summary>
public sealed class TenantLeaseLostException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="tenant">The tenant whose write was refused.</param>
    /// <param name="epoch">The epoch the refused write carried.</param>
    public TenantLeaseLostException(TenantId tenant, long epoch)
        : base($"The write of tenant '{tenant}' was refused: this host no longer holds its lease (epoch {epoch}).")
    {
        Tenant = tenant;
        Epoch = epoch;
    }

    /// <summary>The tenant whose write was refused.</summary>
    public TenantId Tenant { get; }

    /// <summary>The (stale) epoch the refused write carried.</summary>
    public long Epoch { get; }
}
