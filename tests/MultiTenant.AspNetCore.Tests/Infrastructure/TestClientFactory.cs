using System.Collections.Concurrent;
using MultiTenant.Clients;

namespace MultiTenant.AspNetCore.Tests.Infrastructure;

/// <summary>How the test clients of one tenant behave: connect at once unless a gate is set, send with a scripted result.</summary>
internal sealed class TestClientBehaviour
{
    /// <summary>When set, <c>ConnectAsync</c> waits for it (a client that connects on a signal).</summary>
    public TaskCompletionSource? ConnectGate { get; set; }

    /// <summary>When set, <c>DisconnectAsync</c> waits for it (to hold a shutdown open).</summary>
    public TaskCompletionSource? DisconnectGate { get; set; }

    /// <summary>Completed when <c>DisconnectAsync</c> is first called.</summary>
    public TaskCompletionSource DisconnectCalled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>When set, the factory throws it instead of creating a client.</summary>
    public Exception? CreateFailure { get; set; }

    /// <summary>When set, sends throw it.</summary>
    public Exception? SendFailure { get; set; }

    /// <summary>When set, sends wait for it (after <see cref="SendCalled"/>), to hold a send open.</summary>
    public TaskCompletionSource? SendGate { get; set; }

    /// <summary>Completed when <c>SendMessageAsync</c> is first called.</summary>
    public TaskCompletionSource SendCalled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Whether the client has the logout capability (<see cref="ITenantClientLogout"/>).</summary>
    public bool CanLogout { get; set; }
}

/// <summary>A client factory for API tests; no network, no sleeping.</summary>
internal sealed class TestClientFactory : ITenantClientFactory
{
    private readonly ConcurrentDictionary<string, TestClientBehaviour> _behaviours = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TestClient> _clients = new(StringComparer.Ordinal);

    public TestClientBehaviour For(string tenant) => _behaviours.GetOrAdd(tenant, static _ => new TestClientBehaviour());

    /// <summary>The latest client created for <paramref name="tenant"/>.</summary>
    public TestClient Client(string tenant) => _clients[tenant];

    public ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken)
    {
        var behaviour = For(context.BusinessId.Value);
        if (behaviour.CreateFailure is { } failure)
        {
            throw failure;
        }

        var client = behaviour.CanLogout ? new LogoutTestClient(context, behaviour) : new TestClient(context, behaviour);
        _clients[context.BusinessId.Value] = client;
        return ValueTask.FromResult<ITenantClient>(client);
    }
}

/// <summary>A test client with the logout capability: a logout reports the tenant logged out, as a real client does.</summary>
internal sealed class LogoutTestClient(TenantClientContext context, TestClientBehaviour behaviour) : TestClient(context, behaviour), ITenantClientLogout
{
    public int Logouts { get; private set; }

    public Task LogoutAsync(CancellationToken cancellationToken)
    {
        Logouts++;
        Context.ReportFatal(TenantFatalReason.LoggedOut, "Logged out (test).");
        return Task.CompletedTask;
    }
}

internal class TestClient(TenantClientContext context, TestClientBehaviour behaviour) : ITenantClient
{
    private int _sent;

    public TenantClientContext Context => context;

    public ConcurrentQueue<OutboundMessage> Sent { get; } = new();

    public bool IsConnected { get; private set; }

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        if (behaviour.ConnectGate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        IsConnected = true;
    }

    public async Task DisconnectAsync(CancellationToken cancellationToken)
    {
        behaviour.DisconnectCalled.TrySetResult();
        if (behaviour.DisconnectGate is { } gate)
        {
            await gate.Task;
        }

        IsConnected = false;
    }

    public ValueTask<bool> CheckHealthAsync(CancellationToken cancellationToken) => ValueTask.FromResult(IsConnected);

    public async Task<SendMessageResult> SendMessageAsync(OutboundMessage message, CancellationToken cancellationToken)
    {
        behaviour.SendCalled.TrySetResult();
        if (behaviour.SendGate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        if (behaviour.SendFailure is { } failure)
        {
            throw failure;
        }

        Sent.Enqueue(message);
        return new SendMessageResult($"msg-{context.BusinessId}-{Interlocked.Increment(ref _sent)}");
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
