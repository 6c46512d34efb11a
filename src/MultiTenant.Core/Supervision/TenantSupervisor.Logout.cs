using MultiTenant.Clients;

namespace MultiTenant.Supervision;

internal sealed partial class TenantSupervisor
{
    /// <summary>Asks the current client to log out (<see cref="ITenantClientLogout"/>); it then reports the tenant logged out.</summary>
    /// <exception cref="TenantNotConnectedException">The tenant has no client on this host right now.</exception>
    /// <exception cref="TenantLogoutNotSupportedException">The client has no logout capability.</exception>
    public Task LogoutAsync(CancellationToken cancellationToken)
    {
        var client = Volatile.Read(ref _client);
        return client switch
        {
            null => throw new TenantNotConnectedException(_tenant, Status.State),
            ITenantClientLogout logout => logout.LogoutAsync(cancellationToken),
            _ => throw new TenantLogoutNotSupportedException(_tenant),
        };
    }
}
