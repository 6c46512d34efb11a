using System.ComponentModel.DataAnnotations;

namespace MultiTenant.Sample.Simulation;

/// <summary>
/// Settings of the simulated WhatsApp client (configuration section <c>Simulator</c>, environment <c>Simulator__Name</c>).
/// Every injected failure is off by default.
/// </summary>
public sealed class SimulatorOptions
{
    public const string SectionName = "Simulator";

    /// <summary>Synthetic inbound messages per second per connected tenant. Default 0 (none).</summary>
    [Range(0, 100_000)]
    public double MessagesPerSecond { get; set; }

    /// <summary>Shortest simulated connect time. Default 200 ms.</summary>
    public TimeSpan ConnectDelayMin { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest simulated connect time. Default 1.5 s.</summary>
    public TimeSpan ConnectDelayMax { get; set; } = TimeSpan.FromMilliseconds(1500);

    /// <summary>Probability (0–1) that a connect attempt fails transiently. Default 0.</summary>
    [Range(0, 1)]
    public double ConnectFailureProbability { get; set; }

    /// <summary>Mean time a connection lasts before the simulator drops it (reported). 0 = never. Default 0.</summary>
    public TimeSpan DropAfter { get; set; }

    /// <summary>Mean time before a connection dies silently (not reported; the health check must catch it). 0 = never. Default 0.</summary>
    public TimeSpan SilentDropAfter { get; set; }

    /// <summary>Time after which a connected tenant is logged out (fatal). 0 = never. Default 0.</summary>
    public TimeSpan LogoutAfter { get; set; }

    /// <summary>Business ids that have no paired device: starting them fails fatally. Default none.</summary>
    public string[] UnpairedTenants { get; set; } = [];

    /// <summary>
    /// Business ids that must be paired before they connect: the client shows a simulated QR code (renewed every 20 s) on the
    /// <see cref="MultiTenant.Clients.TenantPairingBoard"/> and waits for <see cref="PairingDelay"/> as if the phone scanned it.
    /// Default none.
    /// </summary>
    public string[] PairingTenants { get; set; } = [];

    /// <summary>How long a pairing tenant waits for its simulated scan. 0 = forever (the QR stays until the tenant stops). Default 0.</summary>
    public TimeSpan PairingDelay { get; set; }

    /// <summary>
    /// A file to which every client appends an ownership audit line when it is created (<c>open</c>), sends a message (<c>send</c>) and
    /// is disposed (<c>close</c>): business id, host id, Unix time in ms, ownership epoch. Used by tools/fleet-measure.sh and the fleet's
    /// process tests to check that no tenant ran on two processes at once and that no host acted under a superseded epoch.
    /// Default none.
    /// </summary>
    public string? AuditFile { get; set; }
}
