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
        return ValueTask.FromResult<ITenantClient>(new InstantClient(
            beforeConnect: (attempt, token) => attempt > 1 && _holdReconnects ? _reconnects.Task.WaitAsync(token) : Task.CompletedTask));
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
}

/// <summary>
/// The tests' client: connects at once (after <c>beforeConnect</c>, given the attempt number, when set), sends through <c>send</c>
/// (default: a new id each time), and calls <c>onDispose</c> when disposed.
/// </summary>
public sealed class InstantClient(
    Func<OutboundMessage, Task<SendMessageResult>>? send = null,
    Func<int, CancellationToken, Task>? beforeConnect = null,
    Action? onDispose = null) : ITenantClient
{
    private int _connects;

    public bool IsConnected { get; private set; }

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        int attempt = Interlocked.Increment(ref _connects);
        if (beforeConnect is not null)
        {
            await beforeConnect(attempt, cancellationToken);
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
        send?.Invoke(message) ?? Task.FromResult(new SendMessageResult(Guid.NewGuid().ToString("N")));

    public ValueTask DisposeAsync()
    {
        IsConnected = false;
        onDispose?.Invoke();
        return ValueTask.CompletedTask;
    }
}
