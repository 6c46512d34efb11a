using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MultiTenant.Clients;
using MultiTenant.Hosting;
using MultiTenant.Tests.Infrastructure;

namespace MultiTenant.Tests.Hosting;

/// <summary>The live feeds views read: the status feed (every published status) and the pairing board (issue 13).</summary>
public sealed class StatusFeedAndPairingTests
{
    [Fact]
    public async Task A_reader_of_the_status_feed_sees_a_started_tenant_turn_starting_then_connected()
    {
        var factory = new FakeClientFactory { AutoConnect = true };
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddWhatsAppTenants(o => o.HostId = "h1").UseClientFactory(factory);
        using var host = builder.Build();
        await host.StartAsync();
        var coordinator = host.Services.GetRequiredService<ITenantCoordinator>();
        var feed = host.Services.GetRequiredService<TenantStatusFeed>();
        using var cts = new CancellationTokenSource();
        var changes = feed.ReadChangesAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        var first = changes.MoveNextAsync(); // runs up to its first wait: the reader is registered

        await coordinator.StartAsync(TenantId.Parse("tenant1"));
        var seen = new List<TenantState>();
        for (var next = first; await next.AsTask().WithTimeout(); next = changes.MoveNextAsync())
        {
            Assert.Equal("tenant1", changes.Current.BusinessId.Value);
            seen.Add(changes.Current.State);
            if (changes.Current.State == TenantState.Connected)
            {
                break;
            }
        }

        Assert.Equal([TenantState.Starting, TenantState.Connected], seen);
        await changes.DisposeAsync();
        await host.StopAsync();
    }

    [Fact]
    public async Task The_pairing_board_shows_replaces_and_clears_a_tenants_challenge_and_streams_each_change()
    {
        var board = new TenantPairingBoard();
        var t = TenantId.Parse("tenant1");
        using var cts = new CancellationTokenSource();
        var updates = new List<TenantPairingUpdate>();
        var listening = board.ReadChangesAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        var first = listening.MoveNextAsync(); // registers the reader

        board.Show(new TenantPairingChallenge(t, "2@a", null, DateTimeOffset.UnixEpoch));
        board.Show(new TenantPairingChallenge(t, "2@b", null, DateTimeOffset.UnixEpoch));
        Assert.Equal("2@b", board.Get(t)!.QrCode);
        Assert.Single(board.GetAll());
        board.Clear(t);
        board.Clear(t); // no second update
        Assert.Null(board.Get(t));
        Assert.Empty(board.GetAll());

        Assert.True(await first.AsTask().WithTimeout());
        updates.Add(listening.Current);
        Assert.True(await listening.MoveNextAsync().AsTask().WithTimeout());
        updates.Add(listening.Current);
        Assert.True(await listening.MoveNextAsync().AsTask().WithTimeout());
        updates.Add(listening.Current);
        Assert.Equal(["2@a", "2@b", null], updates.Select(u => u.Challenge?.QrCode));
        var next = listening.MoveNextAsync();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next.AsTask());
        await listening.DisposeAsync();
    }
}
