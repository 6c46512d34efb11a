using System.Collections.Concurrent;
using MultiTenant.Clients;

namespace MultiTenant.PostgreSql.Tests.Infrastructure;

/// <summary>A client factory whose clients connect at once. Counts the clients created per tenant.</summary>
public sealed class InstantClientFactory : ITenantClientFactory
{
    private readonly ConcurrentDictionary<TenantId, int> _created = new();

    public int CreatedFor(TenantId tenant) => _created.TryGetValue(tenant, out int count) ? count : 0;

    public int TotalCreated => _created.Values.Sum();

    public ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken)
    {
        _created.AddOrUpdate(context.BusinessId, 1, static (_, n) => n + 1);
        return ValueTask.FromResult<ITenantClient>(new InstantClient());
    }

    private sealed class InstantClient : ITenantClient
    {
        public bool IsConnected { get; private set; }

        public Task ConnectAsync(CancellationToken cancellationToken)
        {
            IsConnected = true;
            return Task.CompletedTask;
        }

        public Task DisconnectAsync(CancellationToken cancellationToken)
        {
            IsConnected = false;
            return Task.CompletedTask;
        }

        public ValueTask<bool> CheckHealthAsync(CancellationToken cancellationToken) => ValueTask.FromResult(IsConnected);

        public Task<SendMessageResult> SendMessageAsync(OutboundMessage message, CancellationToken cancellationToken) =>
            Task.FromResult(new SendMessageResult(Guid.NewGuid().ToString("N")));

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>
/// A client factory whose clients the test drives: <see cref="Drop"/> reports a lost connection, and reconnects wait until
/// <see cref="AllowReconnects"/> is called.
/// </summary>
public sealed class ControlledClientFactory : ITenantClientFactory
{
    private readonly ConcurrentDictionary<TenantId, TenantClientContext> _contexts = new();
    private volatile TaskCompletionSource _reconnects = CompletedSource();
    private volatile bool _holdReconnects;

    public ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken)
    {
        _contexts[context.BusinessId] = context;
        return ValueTask.FromResult<ITenantClient>(new ControlledClient(this));
    }

    /// <summary>Makes later reconnect attempts wait, then reports a lost connection of <paramref name="tenant"/>.</summary>
    public void Drop(TenantId tenant, string reason)
    {
        _reconnects = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _holdReconnects = true;
        _contexts[tenant].ReportDisconnected(reason);
    }

    public void AllowReconnects()
    {
        _holdReconnects = false;
        _reconnects.TrySetResult();
    }

    private static TaskCompletionSource CompletedSource()
    {
        var source = new TaskCompletionSource();
        source.SetResult();
        return source;
    }

    private sealed class ControlledClient(ControlledClientFactory owner) : ITenantClient
    {
        private int _connects;

        public bool IsConnected { get; private set; }

        public async Task ConnectAsync(CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _connects) > 1 && owner._holdReconnects)
            {
                await owner._reconnects.Task.WaitAsync(cancellationToken);
            }

            IsConnected = true;
        }

        public Task DisconnectAsync(CancellationToken cancellationToken)
        {
            IsConnected = false;
            return Task.CompletedTask;
        }

        public ValueTask<bool> CheckHealthAsync(CancellationToken cancellationToken) => ValueTask.FromResult(IsConnected);

        public Task<SendMessageResult> SendMessageAsync(OutboundMessage message, CancellationToken cancellationToken) =>
            Task.FromResult(new SendMessageResult("m1"));

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
