using System.Net;

namespace MultiTenant.Orleans;

/// <summary>
/// Options of the Orleans fleet (<c>UseOrleansFleet()</c>), bound from <c>WhatsAppTenants:Fleet:Orleans</c>. The leases keep the options
/// of <c>WhatsAppTenants:Fleet</c> (TTL, renewal interval, safety margin, heartbeats).
/// </summary>
public sealed class OrleansFleetOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "WhatsAppTenants:Fleet:Orleans";

    /// <summary>The Orleans cluster id: silos with the same id on one database form one cluster. Default <c>multitenant</c>.</summary>
    public string ClusterId { get; set; } = "multitenant";

    /// <summary>The Orleans service id (stable across deployments). Default <c>multitenant</c>.</summary>
    public string ServiceId { get; set; } = "multitenant";

    /// <summary>The port silos talk to each other on. Default 11111; each silo on one machine needs its own.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>The port of the silo's client gateway. Default 30000; each silo on one machine needs its own.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// The IP address other silos reach this one at (the silo listens on every address). Default: the loopback address, which only suits
    /// silos on one machine; set the host's own address in a real fleet.
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>
    /// How often the keeper runs the desired tenants that no live host holds (every silo, besides right after each membership change).
    /// Default 1 s; 100 ms to 1 min.
    /// </summary>
    public TimeSpan KeeperInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a silo may go without answering probes before the others declare it dead (Orleans' probe timeout × missed probes). Default
    /// 4 s (1 s × 4); 1 s to 1 min. Tenants of a dead silo run again once it is declared dead and their leases expired.
    /// </summary>
    public TimeSpan FailureDetectionTime { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>The parsed <see cref="AdvertisedAddress"/> (loopback when unset).</summary>
    internal IPAddress GetAddress() => AdvertisedAddress is { Length: > 0 } text ? IPAddress.Parse(text) : IPAddress.Loopback;

    /// <summary>Throws when an option is out of its documented range.</summary>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">An option is invalid.</exception>
    internal void ThrowIfInvalid()
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(ClusterId) || ClusterId.Length > 256)
        {
            failures.Add("ClusterId must be 1 to 256 characters.");
        }

        if (string.IsNullOrWhiteSpace(ServiceId))
        {
            failures.Add("ServiceId must not be empty.");
        }

        if (SiloPort is < 1 or > 65535 || GatewayPort is < 1 or > 65535 || SiloPort == GatewayPort)
        {
            failures.Add("SiloPort and GatewayPort must be two different ports from 1 to 65535.");
        }

        if (AdvertisedAddress is { Length: > 0 } address && !IPAddress.TryParse(address, out _))
        {
            failures.Add("AdvertisedAddress must be an IP address.");
        }

        if (KeeperInterval < TimeSpan.FromMilliseconds(100) || KeeperInterval > TimeSpan.FromMinutes(1))
        {
            failures.Add("KeeperInterval must be from 100 ms to 1 min.");
        }

        if (FailureDetectionTime < TimeSpan.FromSeconds(1) || FailureDetectionTime > TimeSpan.FromMinutes(1))
        {
            failures.Add("FailureDetectionTime must be from 1 s to 1 min.");
        }

        if (failures.Count > 0)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException(SectionName, typeof(OrleansFleetOptions), failures);
        }
    }
}
