using System.Collections.Concurrent;
using System.Threading.Channels;
using MultiTenant.Clients;

namespace MultiTenant.Tests.Infrastructure;

/// <summary>
/// Creates <see cref="FakeClient"/>s and checks the coordinator's promise that a tenant never has two live clients.
/// Every created client is announced on a per-tenant channel, so a test awaits "the client of run N" instead of polling.
/// </summary>
internal sealed class FakeClientFactory : ITenantClientFactory
{
    private readonly ConcurrentDictionary<TenantId, Channel<FakeClient>> _created = new();
    private readonly ConcurrentDictionary<TenantId, int> _alive = new();
    private readonly ConcurrentQueue<FakeClient> _all = new();
    private readonly Channel<ConnectCall> _connects = System.Threading.Channels.Channel.CreateUnbounded<ConnectCall>();
    private int _createCalls;
    private int _connectsInFlight;
    private int _maxConnectsInFlight;
    private int _overlaps;

    /// <summary>Runs before each client is created; throw from it to make the factory fail, await in it to make it slow.</summary>
    public Func<TenantClientContext, CancellationToken, ValueTask>? BeforeCreate { get; set; }

    /// <summary>Configures every new client before it is returned.</summary>
    public Action<FakeClient>? Configure { get; set; }

    /// <summary>Whether new clients connect at once (no test interaction). Default false: each connect waits for the test.</summary>
    public bool AutoConnect { get; set; }

    /// <summary>Calls of <see cref="CreateClientAsync"/> (including failed ones).</summary>
    public int CreateCalls => Volatile.Read(ref _createCalls);

    /// <summary>How many times a client was created while another client of the same tenant was still alive (never disposed).</summary>
    public int Overlaps => Volatile.Read(ref _overlaps);

    /// <summary>The highest number of <see cref="ITenantClient.ConnectAsync"/> calls running at once, over all tenants.</summary>
    public int MaxConnectsInFlight => Volatile.Read(ref _maxConnectsInFlight);

    /// <summary>Every client created, in creation order.</summary>
    public IReadOnlyList<FakeClient> Clients => [.. _all];

    public async ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _createCalls);
        if (BeforeCreate is { } before)
        {
            await before(context, cancellationToken);
        }

        if (_alive.AddOrUpdate(context.BusinessId, 1, static (_, n) => n + 1) > 1)
        {
            Interlocked.Increment(ref _overlaps);
        }

        var client = new FakeClient(this, context) { AutoConnect = AutoConnect };
        Configure?.Invoke(client);
        _all.Enqueue(client);
        Channel(context.BusinessId).Writer.TryWrite(client);
        return client;
    }

    /// <summary>Waits for the next client created for <paramref name="tenant"/>.</summary>
    public Task<FakeClient> NextClientAsync(TenantId tenant) => Channel(tenant).Reader.ReadAsync().AsTask().WithTimeout();

    /// <summary>Waits for the next connect attempt of any tenant's client.</summary>
    public Task<ConnectCall> NextConnectAsync() => _connects.Reader.ReadAsync().AsTask().WithTimeout();

    /// <summary>Whether a client was created for <paramref name="tenant"/> that no test took with <see cref="NextClientAsync"/>.</summary>
    public bool HasUnclaimedClient(TenantId tenant) => Channel(tenant).Reader.Count > 0;

    /// <summary>Releases every gate of every client, so nothing a test forgot can hang the clean-up.</summary>
    public void ReleaseAll()
    {
        foreach (var client in _all)
        {
            client.ReleaseGates();
        }
    }

    internal void OnConnectEntered(ConnectCall call)
    {
        int now = Interlocked.Increment(ref _connectsInFlight);
        int max;
        while (now > (max = Volatile.Read(ref _maxConnectsInFlight)) && Interlocked.CompareExchange(ref _maxConnectsInFlight, now, max) != max)
        {
        }

        _connects.Writer.TryWrite(call);
    }

    internal void OnConnectExited() => Interlocked.Decrement(ref _connectsInFlight);

    internal void OnDisposed(FakeClient client) => _alive.AddOrUpdate(client.Tenant, 0, static (_, n) => n - 1);

    private Channel<FakeClient> Channel(TenantId tenant) => _created.GetOrAdd(tenant, static _ => System.Threading.Channels.Channel.CreateUnbounded<FakeClient>());
}

/// <summary>
/// A scriptable <see cref="ITenantClient"/>. Each <see cref="ConnectAsync"/> becomes a <see cref="ConnectCall"/> that the test awaits
/// (<see cref="NextConnectAsync"/>) and then answers (<see cref="ConnectCall.Succeed"/> or <see cref="ConnectCall.Fail"/>).
/// The connect honours its cancellation token, as a real client does.
/// </summary>
internal sealed class FakeClient : ITenantClient
{
    private readonly FakeClientFactory _factory;
    private readonly Channel<ConnectCall> _connects = Channel.CreateUnbounded<ConnectCall>();
    private readonly Channel<int> _healthChecks = Channel.CreateUnbounded<int>();
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _connectCalls;
    private int _healthCheckCalls;
    private int _disconnectCalls;
    private int _sends;
    private volatile bool _isConnected;

    public FakeClient(FakeClientFactory factory, TenantClientContext context)
    {
        _factory = factory;
        Context = context;
    }

    public TenantClientContext Context { get; }

    public TenantId Tenant => Context.BusinessId;

    /// <summary>Whether connects succeed at once.</summary>
    public bool AutoConnect { get; set; }

    /// <summary>The answer of the health probe; by default, whether the client is connected.</summary>
    public Func<CancellationToken, ValueTask<bool>>? Health { get; set; }

    /// <summary>When set, <see cref="DisposeAsync"/> waits for it (a slow clean-up).</summary>
    public TaskCompletionSource? DisposeGate { get; set; }

    /// <summary>When set, <see cref="DisconnectAsync"/> waits for it or for its token.</summary>
    public TaskCompletionSource? DisconnectGate { get; set; }

    public bool IsConnected
    {
        get => _isConnected;
        set => _isConnected = value;
    }

    public int ConnectCalls => Volatile.Read(ref _connectCalls);

    public int HealthCheckCalls => Volatile.Read(ref _healthCheckCalls);

    public int DisconnectCalls => Volatile.Read(ref _disconnectCalls);

    public bool IsDisposed => _disposed.Task.IsCompleted;

    /// <summary>Completes when the client was disposed.</summary>
    public Task Disposed => _disposed.Task;

    /// <summary>Waits for the next connect attempt.</summary>
    public Task<ConnectCall> NextConnectAsync() => _connects.Reader.ReadAsync().AsTask().WithTimeout();

    /// <summary>Whether a connect attempt was made that no test took with <see cref="NextConnectAsync"/>.</summary>
    public bool HasPendingConnect => _connects.Reader.Count > 0;

    /// <summary>Waits for the next health probe (<see cref="CheckHealthAsync"/> call).</summary>
    public Task<int> NextHealthCheckAsync() => _healthChecks.Reader.ReadAsync().AsTask().WithTimeout();

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var call = new ConnectCall(this, Interlocked.Increment(ref _connectCalls), cancellationToken);
        if (AutoConnect)
        {
            call.Succeed();
        }

        _factory.OnConnectEntered(call);
        _connects.Writer.TryWrite(call);
        try
        {
            await call.Answer.WaitAsync(cancellationToken);
            IsConnected = true;
        }
        finally
        {
            _factory.OnConnectExited();
        }
    }

    public async Task DisconnectAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _disconnectCalls);
        IsConnected = false;
        if (DisconnectGate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }
    }

    public async ValueTask<bool> CheckHealthAsync(CancellationToken cancellationToken)
    {
        int n = Interlocked.Increment(ref _healthCheckCalls);
        try
        {
            return Health is { } health ? await health(cancellationToken) : IsConnected;
        }
        finally
        {
            _healthChecks.Writer.TryWrite(n);
        }
    }

    public Task<SendMessageResult> SendMessageAsync(OutboundMessage message, CancellationToken cancellationToken) =>
        Task.FromResult(new SendMessageResult($"{Tenant}-m{Interlocked.Increment(ref _sends)}"));

    public async ValueTask DisposeAsync()
    {
        if (DisposeGate is { } gate)
        {
            await gate.Task;
        }

        IsConnected = false;
        if (_disposed.TrySetResult())
        {
            _factory.OnDisposed(this);
        }
    }

    internal void ReleaseGates()
    {
        DisposeGate?.TrySetResult();
        DisconnectGate?.TrySetResult();
    }
}

/// <summary>One call of <see cref="FakeClient.ConnectAsync"/>, answered by the test.</summary>
internal sealed class ConnectCall
{
    private readonly TaskCompletionSource _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConnectCall(FakeClient client, int number, CancellationToken token)
    {
        Client = client;
        Number = number;
        Token = token;
    }

    /// <summary>The client whose connect this is.</summary>
    public FakeClient Client { get; }

    /// <summary>1 for the first connect of the client, 2 for the second, ...</summary>
    public int Number { get; }

    /// <summary>The token the supervisor passed.</summary>
    public CancellationToken Token { get; }

    internal Task Answer => _answer.Task;

    public void Succeed() => _answer.TrySetResult();

    public void Fail(Exception exception) => _answer.TrySetException(exception);

    /// <summary>Completes when <see cref="Token"/> is cancelled.</summary>
    public Task Cancelled
    {
        get
        {
            var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Token.Register(static s => ((TaskCompletionSource)s!).TrySetResult(), cancelled);
            return cancelled.Task;
        }
    }
}
