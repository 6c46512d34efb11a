namespace MultiTenant.Clients;

/// <summary>
/// The optional logout capability of an <see cref="ITenantClient"/>: a client that can unlink its device from the account implements
/// it, and <see cref="Hosting.ITenantCoordinator.LogoutAsync"/> (the API's <c>POST /api/tenants/{business_id}/logout</c>) calls it;
/// for a client without it the call fails with <see cref="TenantLogoutNotSupportedException"/> (409 in the API).
/// </summary>
public interface ITenantClientLogout
{
    /// <summary>
    /// Logs the device out at the backend and forgets its credentials. Afterwards the client reports the connection lost with
    /// <see cref="TenantFatalReason.LoggedOut"/> (<see cref="TenantClientContext.ReportFatal"/>), so the tenant goes to
    /// <see cref="TenantState.Error"/> and stays there until it is paired and started again.
    /// </summary>
    Task LogoutAsync(CancellationToken cancellationToken);
}
