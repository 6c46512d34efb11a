using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MultiTenant.Clients;
using MultiTenant.Hosting;
using MultiTenant.Tests.Infrastructure;

namespace MultiTenant.Tests.Hosting;

/// <summary>
/// The placement seam (issue 11): a placement written against the public types only (<see cref="ITenantPlacement"/> asked by the
/// coordinator, <see cref="ITenantHost"/> asked by the placement) decides where and under which epoch tenants run.
/// </summary>
public sealed class PlacementSeamTests
{
    [Fact]
    public async Task A_custom_placement_decides_when_and_under_which_epoch_a_tenant_runs_routes_its_sends_and_can_take_it_away()
    {
        var factory = new FakeClientFactory { AutoConnect = true };
        var placement = new ManualPlacement();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddWhatsAppTenants(o => o.HostId = "h1").UseClientFactory(factory);
        builder.Services.AddSingleton<ITenantPlacement>(placement);
        using var host = builder.Build();
        await host.StartAsync();
        var coordinator = host.Services.GetRequiredService<ITenantCoordinator>();
        var reader = host.Services.GetRequiredService<ITenantOwnershipReader>();
        var t = TenantId.Parse("tenant1");

        // The start is only recorded: the placement has not put it on this host yet.
        Assert.Equal(TenantState.Starting, (await coordinator.StartAsync(t)).State);
        Assert.Equal(0, factory.CreateCalls);
        Assert.False(reader.TryGetOwnershipEpoch(t, out _));
        await Assert.ThrowsAsync<TenantUnavailableException>(() => coordinator.SendMessageAsync(t, new OutboundMessage("1555", "hi")));

        // Placed here under epoch 7: the client and the handlers see it, and sends go through the placement to the local client.
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Services.GetRequiredService<TenantCoordinator>().StatusObserver = s =>
        {
            if (s.State == TenantState.Connected)
            {
                connected.TrySetResult();
            }
        };
        Assert.True(placement.Place(t, 7));
        var client = await factory.NextClientAsync(t);
        Assert.Equal(7, client.Context.OwnershipEpoch);
        await connected.Task.WithTimeout();
        Assert.Equal(TenantState.Connected, (await coordinator.GetStatusAsync(t))!.State);
        Assert.True(reader.TryGetOwnershipEpoch(t, out long epoch));
        Assert.Equal(7, epoch);
        Assert.Equal("tenant1-m1", (await coordinator.SendMessageAsync(t, new OutboundMessage("1555", "hi"))).MessageId);
        Assert.Equal(2, placement.Routed);

        // The placement takes it away: it reports ownership lost at once and no longer counts as running here.
        var final = await placement.LoseAsync(t).WithTimeout();
        Assert.Equal(TenantState.Error, final!.State);
        Assert.Contains("ownership lost", final.Error, StringComparison.Ordinal);
        Assert.False(reader.TryGetOwnershipEpoch(t, out _));

        await host.StopAsync();
        Assert.True(placement.Stopped);
    }

    /// <summary>A placement built from public types only: the test places tenants by hand, each under the epoch it chooses.</summary>
    private sealed class ManualPlacement : ITenantPlacement
    {
        private readonly ConcurrentDictionary<TenantId, long> _placed = new();
        private readonly ConcurrentDictionary<TenantId, bool> _desired = new();
        private ITenantHost? _host;
        private int _routed;

        public int Routed => Volatile.Read(ref _routed);

        public bool Stopped { get; private set; }

        public Task StartAsync(ITenantHost host, CancellationToken cancellationToken)
        {
            _host = host;
            return Task.CompletedTask;
        }

        public bool Place(TenantId tenant, long epoch)
        {
            _placed[tenant] = epoch;
            return _host!.Activate(tenant, epoch);
        }

        public Task<TenantStatus?> LoseAsync(TenantId tenant)
        {
            _placed.TryRemove(tenant, out _);
            return _host!.DeactivateAsync(tenant, TenantDeactivationReason.OwnershipLost);
        }

        public ValueTask<TenantStatus> RequestStartAsync(TenantId tenant, CancellationToken cancellationToken)
        {
            if (!_desired.TryAdd(tenant, true))
            {
                throw new TenantAlreadyRunningException(tenant, null);
            }

            var now = DateTimeOffset.UtcNow;
            return ValueTask.FromResult(new TenantStatus(tenant, TenantState.Starting, now, now, null, null));
        }

        public async ValueTask<TenantStatus> RequestStopAsync(TenantId tenant, CancellationToken cancellationToken)
        {
            if (!_desired.TryRemove(tenant, out _))
            {
                throw new TenantNotFoundException(tenant);
            }

            _placed.TryRemove(tenant, out _);
            return await _host!.DeactivateAsync(tenant, TenantDeactivationReason.Released)
                ?? new TenantStatus(tenant, TenantState.Stopped, null, DateTimeOffset.UtcNow, null, null);
        }

        public Task<SendMessageResult> RouteSendAsync(TenantId tenant, OutboundMessage message, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _routed);
            return _placed.ContainsKey(tenant)
                ? _host!.SendLocalAsync(tenant, message, cancellationToken)
                : throw new TenantUnavailableException(tenant, TimeSpan.FromSeconds(1));
        }

        public bool IsPlacedHere(TenantId tenant) => _placed.ContainsKey(tenant);

        public Task StopAsync(CancellationToken cancellationToken)
        {
            Stopped = true;
            return Task.CompletedTask;
        }
    }
}
