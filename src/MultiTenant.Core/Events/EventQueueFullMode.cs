namespace MultiTenant.Events;

/// <summary>What a tenant's event queue does when it is full.</summary>
public enum EventQueueFullMode
{
    /// <summary>The client waits until there is room (backpressure). Lossless; the default.</summary>
    Wait = 0,

    /// <summary>Lossy: the oldest queued event is dropped to make room. Every drop is counted and logged.</summary>
    DropOldest = 1,

    /// <summary>Lossy: the new event is dropped. Every drop is counted and logged.</summary>
    DropNewest = 2,
}
