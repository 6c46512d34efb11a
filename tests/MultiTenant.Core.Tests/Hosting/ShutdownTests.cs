using Microsoft.Extensions.Hosting;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Tests.Events;
using MultiTenant.Tests.Infrastructure;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Tests.Hosting;

public sealed class ShutdownTests
{
    [Fact]
    public async Task Shutdown_drains_queued_events_before_it_completes()
    {
        var gate = new HandlerGate();
        var handler = new RecordingHandler
        {
            Only = [typeof(NumberedEvent)],
            OnHandle = (_, e, ct) => e is NumberedEvent { Sequence: 0 } ? gate.WaitAsync(ct) : ValueTask.CompletedTask,
        };
        await using var h = Create(handlers: [handler]);
        await h.StartHostAsync();
        var a = Id("a");
        var b = Id("b");
        var clientA = await h.StartConnectedAsync(a);
        var clientB = await h.StartConnectedAsync(b);
        for (int i = 0; i < 50; i++)
        {
            await clientA.Context.Events.WriteAsync(new NumberedEvent { Sequence = i }).AsTask().WithTimeout();
            await clientB.Context.Events.WriteAsync(new NumberedEvent { Sequence = i + 1 }).AsTask().WithTimeout();
        }

        await gate.Entered;

        var stopping = h.StopHostAsync();

        Assert.True(h.Coordinator.IsStopping);
        await Assert.ThrowsAsync<TenantCoordinatorStoppingException>(() => h.Coordinator.StartAsync(Id("late")).AsTask());
        await clientB.Disposed.WithTimeout(); // the other tenant stops meanwhile
        Assert.False(stopping.IsCompleted); // a's handler holds its queue
        gate.Open();
        await stopping;

        Assert.Equal(50, handler.Events(a).Count);
        Assert.Equal(50, handler.Events(b).Count);
        Assert.True(clientA.IsDisposed);
        Assert.Equal(1, clientA.DisconnectCalls);
        Assert.Equal(TenantState.Stopped, h.StateOf(a));
        Assert.Equal(default, h.Coordinator.Counts);
        Assert.Equal([a, b], await h.Store.ListDesiredRunningAsync(CancellationToken.None)); // they run again after a restart
        Assert.Contains(h.Logs.GetSnapshot(), static r => r.Id.Id == MultiTenantEventIds.CoordinatorStopped);
    }

    [Fact]
    public async Task A_start_that_races_with_shutdown_is_refused_and_leaves_nothing_running()
    {
        await using var h = Create();
        h.Factory.AutoConnect = true;
        await h.StartHostAsync();
        var t = Id("late");
        using var inStart = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        // Hold the start just after it checked that the host is not stopping, while it builds the tenant's supervisor.
        h.Time.BeforeNextGetUtcNow = () =>
        {
            inStart.Set();
            release.Wait(Timeouts.Safety);
        };
        var starting = Task.Run(() => h.Coordinator.StartAsync(t).AsTask());
        Assert.True(inStart.Wait(Timeouts.Safety));

        await h.StopHostAsync(); // shutdown completes before the start goes on
        release.Set();

        await Assert.ThrowsAsync<TenantCoordinatorStoppingException>(() => starting.WithTimeout());
        Assert.Equal(TenantState.Stopped, h.StateOf(t));
        Assert.Equal(default, h.Coordinator.Counts);
        await Task.WhenAll(h.Factory.Clients.Select(static c => c.Disposed)).WithTimeout();
        Assert.Empty(await h.Store.ListDesiredRunningAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Shutdown_flushes_the_final_statuses_to_the_store()
    {
        await using var h = Create();
        await h.StartHostAsync();
        var t = Id("a");
        await h.StartConnectedAsync(t);

        await h.StopHostAsync();

        var stored = await h.Store.GetAsync(t, CancellationToken.None);
        Assert.Equal(TenantState.Stopped, stored!.State);
    }

    [Fact]
    public async Task Shutdown_timeout_cancels_handlers_that_are_still_running()
    {
        var gate = new HandlerGate();
        bool cancelled = false;
        var handler = new RecordingHandler
        {
            Only = [typeof(NumberedEvent)],
            OnHandle = async (_, e, ct) =>
            {
                if (e is NumberedEvent { Sequence: 0 })
                {
                    try
                    {
                        await gate.WaitAsync(ct);
                    }
                    catch (OperationCanceledException) when (ct.IsCancellationRequested)
                    {
                        cancelled = true;
                        throw;
                    }
                }
            },
        };
        await using var h = Create(handlers: [handler]);
        await h.StartHostAsync();
        var t = Id("a");
        var client = await h.StartConnectedAsync(t);
        var delivered = client.Context.Events.DeliverAsync(new NumberedEvent { Sequence = 0 }).AsTask();
        await client.Context.Events.WriteAsync(new NumberedEvent { Sequence = 1 }).AsTask().WithTimeout();
        await gate.Entered;
        using var shutdownTimeout = new CancellationTokenSource();

        var stopping = ((IHostedService)h.Coordinator).StopAsync(shutdownTimeout.Token);
        Assert.False(stopping.IsCompleted);
        await shutdownTimeout.CancelAsync(); // the host's shutdown timeout ran out

        await stopping.WithTimeout();
        Assert.True(cancelled);
        await delivered.WithTimeout(); // a cancelled handler still releases the waiting client
        Assert.Equal([1], handler.Events(t).Cast<NumberedEvent>().Select(static e => e.Sequence)); // the rest was still drained
        Assert.Contains(h.Logs.GetSnapshot(), static r => r.Id.Id == MultiTenantEventIds.ShutdownTimedOut);
        Assert.Equal(TenantState.Stopped, h.StateOf(t));
    }

    [Fact]
    public async Task Shutdown_with_tenants_in_every_state_completes()
    {
        await using var h = Create();
        await h.StartHostAsync();
        await h.StartConnectedAsync(Id("connected"));
        var connecting = await h.StartAsync(Id("connecting"));
        var connectCall = await connecting.NextConnectAsync();
        var backingOff = await h.StartAsync(Id("backing-off"));
        (await backingOff.NextConnectAsync()).Fail(new IOException("1"));
        (await backingOff.NextConnectAsync()).Fail(new IOException("2"));
        await h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(0.5));
        h.Factory.BeforeCreate = (ctx, _) => ctx.BusinessId.Value == "faulted"
            ? throw new TenantFatalException(TenantFatalReason.NotPaired, "no device")
            : ValueTask.CompletedTask;
        await h.Coordinator.StartAsync(Id("faulted")).WithTimeout();
        await h.Statuses.WaitForStateAsync(Id("faulted"), TenantState.Error);

        await h.StopHostAsync(); // no time advanced

        Assert.True(connectCall.Token.IsCancellationRequested);
        Assert.All(h.Factory.Clients, static c => Assert.True(c.IsDisposed));
        Assert.Equal(default, h.Coordinator.Counts);
    }
}
