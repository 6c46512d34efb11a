using Orleans;

namespace MultiTenant.Orleans.Grains;

/// <summary>
/// One tenant as an Orleans grain (key: the business id). Its activation runs the tenant on its silo through
/// <see cref="Hosting.ITenantHost"/> while it holds the tenant's PostgreSQL lease; an activation that cannot get the lease stays passive
/// (runs nothing) and tries again.
/// </summary>
internal interface ITenantGrain : IGrainWithStringKey
{
    /// <summary>
    /// Runs the tenant here if its lease is free (a keeper's or a lost lease's nudge); returns whether this activation runs it.
    /// <paramref name="restart"/>: a start request, which also starts again a run that ended (in error) under the lease held here.
    /// </summary>
    Task<bool> EnsureRunningAsync(bool restart);

    /// <summary>Stops the tenant here (it was recorded desired-stopped), releases its lease with the final status and deactivates.</summary>
    Task StopAsync();

    /// <summary>Sends the message (<see cref="Clients.OutboundMessageJson"/> UTF-8 JSON) through the tenant's client on this activation's silo.</summary>
    Task<GrainSendResult> SendAsync(byte[] message);
}
