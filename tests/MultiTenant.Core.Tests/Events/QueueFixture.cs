using Microsoft.Extensions.Logging.Testing;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Tests.Infrastructure;

namespace MultiTenant.Tests.Events;

/// <summary>Tenant event queues built directly (no coordinator), with their own meter, logs and clock.</summary>
internal sealed class QueueFixture : IAsyncDisposable
{
    private readonly List<TenantEventQueue> _queues = [];

    public QueueFixture(int maxTenantLabels = 1000) => Metrics = new TenantMetrics(meterFactory: null, maxTenantLabels);

    public TenantMetrics Metrics { get; }

    public FakeLogCollector Logs { get; } = new();

    public TestTimeProvider Time { get; } = new();

    public CancellationTokenSource Abort { get; } = new();

    public TenantEventQueue Create(string tenant, ITenantEventHandler[] handlers, int capacity = 1024, EventQueueFullMode mode = EventQueueFullMode.Wait)
    {
        var queue = new TenantEventQueue(
            TenantId.Parse(tenant), capacity, mode, handlers, Metrics, new FakeLogger(Logs), Time, Abort.Token);
        queue.Start();
        _queues.Add(queue);
        return queue;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var queue in _queues)
        {
            queue.Complete();
        }

        await Abort.CancelAsync();
        await Task.WhenAll(_queues.Select(static q => q.Completion)).WithTimeout();
        Abort.Dispose();
        Metrics.Dispose();
    }
}

/// <summary>A gate a handler waits on, with a signal that it got there.</summary>
internal sealed class HandlerGate
{
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Entered => _entered.Task.WithTimeout();

    public bool IsOpen => _open.Task.IsCompleted;

    public async ValueTask WaitAsync(CancellationToken cancellationToken = default)
    {
        _entered.TrySetResult();
        await _open.Task.WaitAsync(cancellationToken);
    }

    public void Open() => _open.TrySetResult();
}
