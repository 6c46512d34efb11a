namespace MultiTenant.Inbox;

public sealed partial class InMemoryTenantInbox
{
    /// <summary>Erases every item of <paramref name="tenant"/>: pending, claimed, done and dead-lettered.</summary>
    public ValueTask PurgeAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _tenants.Remove(tenant);
        }

        return ValueTask.CompletedTask;
    }
}
