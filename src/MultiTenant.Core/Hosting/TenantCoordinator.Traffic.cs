using MultiTenant.Diagnostics;

namespace MultiTenant.Hosting;

public sealed partial class TenantCoordinator : ITenantTrafficReader
{
    /// <inheritdoc />
    public bool TryGetTraffic(TenantId tenant, out TenantTraffic traffic)
    {
        if (_supervisors.TryGetValue(tenant, out var supervisor))
        {
            traffic = new TenantTraffic(supervisor.Traffic.In, supervisor.Traffic.Out, supervisor.QueueDepth);
            return true;
        }

        traffic = default;
        return false;
    }

    /// <inheritdoc />
    public TenantHostTraffic GetHostTraffic()
    {
        long messagesIn = 0, messagesOut = 0, depth = 0;
        foreach (var supervisor in _supervisors.Values)
        {
            messagesIn += supervisor.Traffic.In;
            messagesOut += supervisor.Traffic.Out;
            depth += supervisor.QueueDepth;
        }

        return new TenantHostTraffic(Counts, messagesIn, messagesOut, depth);
    }
}
