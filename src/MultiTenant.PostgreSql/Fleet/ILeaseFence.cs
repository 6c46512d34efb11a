namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// What the fenced stores ask of the part that holds this host instance's leases: the fleet's own placement (<see cref="FleetMember"/>)
/// or <see cref="FleetLeases"/> driven by another placement engine.
/// </summary>
internal interface ILeaseFence
{
    /// <summary>This host instance: the owner of the leases in the database.</summary>
    Guid InstanceId { get; }

    /// <summary>The fleet's statements.</summary>
    FleetStatements Sql { get; }

    /// <summary>The validated fleet options.</summary>
    FleetOptions Options { get; }

    /// <summary>The epoch of this host's lease of <paramref name="tenant"/>, or <see langword="null"/> when it holds none.</summary>
    long? GetEpoch(TenantId tenant);

    /// <summary>A write under <paramref name="epoch"/> was refused: if that is still the lease this host believes it holds, it is lost.</summary>
    void OnWriteRefused(TenantId tenant, long epoch);

    /// <summary>Writes statuses fenced by their lease epochs (statuses whose lease is gone are dropped by the database).</summary>
    Task WriteStatusesAsync(IReadOnlyList<(TenantStatus Status, long Epoch)> statuses, CancellationToken cancellationToken);
}
