using Orleans;

namespace MultiTenant.Orleans.Grains;

/// <summary>How a send through a tenant grain ended; the placement turns a failure back into the library's typed exception.</summary>
[GenerateSerializer]
internal enum GrainSendOutcome
{
    /// <summary>Sent: <see cref="GrainSendResult.MessageId"/> is set.</summary>
    Sent = 0,

    /// <summary>This activation does not run the tenant (passive, or its lease is gone).</summary>
    NotRunning = 1,

    /// <summary>The tenant runs here but its client is not connected (<see cref="GrainSendResult.State"/>).</summary>
    NotConnected = 2,

    /// <summary>The backend refused the message (<see cref="GrainSendResult.Error"/> and the other fields).</summary>
    Refused = 3,
}

/// <summary>The answer of <see cref="ITenantGrain.SendAsync"/>: plain data, so no exception type has to cross silos.</summary>
[GenerateSerializer]
internal sealed class GrainSendResult
{
    [Id(0)]
    public GrainSendOutcome Outcome { get; init; }

    [Id(1)]
    public string? MessageId { get; init; }

    /// <summary>The tenant's <see cref="TenantState"/>, as its number (no codec needed for a type of another assembly).</summary>
    [Id(2)]
    public int State { get; init; }

    [Id(3)]
    public string? Error { get; init; }

    [Id(4)]
    public bool IsTransient { get; init; }

    [Id(5)]
    public string? ErrorCode { get; init; }

    [Id(6)]
    public TimeSpan? RetryAfter { get; init; }
}
