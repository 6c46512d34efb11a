using Microsoft.Extensions.Logging.Testing;
using MultiTenant.Diagnostics;
using MultiTenant.Storage;
using MultiTenant.Tests.Infrastructure;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Tests.Storage;

public sealed class StatusWriterTests
{
    private readonly TestTimeProvider _time = new();
    private readonly FakeLogCollector _logs = new();
    private readonly RecordingStatusStore _store;

    public StatusWriterTests() => _store = new RecordingStatusStore(new InMemoryTenantStore(_time));

    [Fact]
    public async Task Pending_statuses_are_written_in_one_batch_with_the_latest_status_of_each_tenant()
    {
        var writer = NewWriter();
        var a = Id("a");
        var b = Id("b");
        writer.Enqueue(Status(a, TenantState.Starting));
        writer.Enqueue(Status(a, TenantState.Connected));
        writer.Enqueue(Status(b, TenantState.Starting));
        writer.Enqueue(Status(a, TenantState.Disconnected));

        writer.Start();

        var call = await _store.NextCallAsync();
        Assert.Equal(2, call.Statuses.Length);
        await _store.WaitForStoredAsync(a, TenantState.Disconnected);
        await _store.WaitForStoredAsync(b, TenantState.Starting);
        await writer.StopAsync().WithTimeout();
        Assert.Single(_store.Batches);
        Assert.Equal(0, writer.PendingCount);
    }

    [Fact]
    public async Task A_failing_store_is_retried_with_backoff_and_the_latest_status_is_not_lost()
    {
        var writer = NewWriter();
        var t = Id("tenant1");
        _store.FailuresLeft = 2;
        writer.Start();

        writer.Enqueue(Status(t, TenantState.Starting));
        Assert.True((await _store.NextCallAsync()).Failed);
        await _time.WaitForTimerAsync(TimeSpan.FromMilliseconds(100));
        writer.Enqueue(Status(t, TenantState.Connected)); // changes while the store is down
        _time.Advance(TimeSpan.FromMilliseconds(100));
        var second = await _store.NextCallAsync();
        Assert.True(second.Failed);
        Assert.Equal(TenantState.Connected, Assert.Single(second.Statuses).State);
        await _time.WaitForTimerAsync(TimeSpan.FromMilliseconds(200)); // the retry delay doubles
        _time.Advance(TimeSpan.FromMilliseconds(200));

        var third = await _store.NextCallAsync();
        Assert.False(third.Failed);
        await _store.WaitForStoredAsync(t, TenantState.Connected);
        Assert.Equal(2, _logs.GetSnapshot().Count(static r => r.Id.Id == MultiTenantEventIds.StatusWriteFailed));
        await writer.StopAsync().WithTimeout();
        Assert.Equal(0, writer.PendingCount);
    }

    [Fact]
    public async Task A_status_that_changes_while_its_write_is_in_flight_is_written_again()
    {
        var writer = NewWriter();
        var t = Id("tenant1");
        _store.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        writer.Start();

        writer.Enqueue(Status(t, TenantState.Starting));
        await _store.NextCallAsync(); // the write of "starting" is in flight
        writer.Enqueue(Status(t, TenantState.Connected));
        _store.Gate.SetResult();

        await _store.WaitForStoredAsync(t, TenantState.Connected);
        await writer.StopAsync().WithTimeout();
        Assert.Equal(TenantState.Connected, _store.Stored(t)!.State);
    }

    [Fact]
    public async Task Stop_writes_what_is_pending_even_during_a_retry_delay()
    {
        var writer = NewWriter();
        var t = Id("tenant1");
        _store.FailuresLeft = 1;
        writer.Start();
        writer.Enqueue(Status(t, TenantState.Stopped));
        Assert.True((await _store.NextCallAsync()).Failed);
        await _time.WaitForTimerAsync(TimeSpan.FromMilliseconds(100));

        await writer.StopAsync().WithTimeout(); // no time advanced

        Assert.Equal(TenantState.Stopped, _store.Stored(t)!.State);
        Assert.Equal(0, writer.PendingCount);
    }

    [Fact]
    public async Task Status_changes_of_the_coordinator_reach_the_status_store()
    {
        var memory = new InMemoryTenantStore(_time);
        var store = new RecordingStatusStore(memory);
        await using var h = Create(store: memory, statusStore: store, time: _time);
        await h.StartHostAsync();
        var t = Id("tenant1");

        var client = await h.StartAsync(t);
        await store.WaitForStoredAsync(t, TenantState.Starting);
        (await client.NextConnectAsync()).Succeed();
        await store.WaitForStoredAsync(t, TenantState.Connected);
        await h.Coordinator.StopAsync(t).WithTimeout();
        await store.WaitForStoredAsync(t, TenantState.Stopped);

        var stored = store.Stored(t)!;
        Assert.Equal("test-host", stored.Host);
        Assert.Equal(h.Statuses.History(t)[^1], stored);
    }

    [Fact]
    public async Task The_coordinator_keeps_the_latest_status_while_the_status_store_fails()
    {
        var memory = new InMemoryTenantStore(_time);
        var store = new RecordingStatusStore(memory) { FailuresLeft = 1 };
        await using var h = Create(store: memory, statusStore: store, time: _time);
        await h.StartHostAsync();
        var t = Id("tenant1");

        await h.StartConnectedAsync(t);
        Assert.True((await store.NextCallAsync()).Failed);
        await _time.WaitForTimerAsync(TimeSpan.FromMilliseconds(100));
        Assert.Equal(TenantState.Connected, (await h.Coordinator.GetStatusAsync(t).WithTimeout())!.State); // reads stay fresh
        _time.Advance(TimeSpan.FromMilliseconds(100));

        await store.WaitForStoredAsync(t, TenantState.Connected);
    }

    [Fact]
    public async Task The_pending_count_stays_exact_while_many_threads_enqueue_and_the_writer_flushes()
    {
        // Issue 12: the count is a counter beside the map (ConcurrentDictionary.Count takes every lock), so it must follow every add,
        // replace and remove exactly, with the writer removing written entries while writers add and replace.
        var store = new InMemoryTenantStore(_time);
        var writer = new StatusWriter(store, _time, new FakeLogger(_logs));
        var tenants = Enumerable.Range(0, 500).Select(static i => Id($"t{i:D3}")).ToArray();
        writer.Start();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(() =>
        {
            for (int round = 0; round < 20; round++)
            {
                foreach (var tenant in tenants)
                {
                    writer.Enqueue(Status(tenant, (round + w) % 2 == 0 ? TenantState.Starting : TenantState.Connected));
                }
            }
        }))).WithTimeout();
        foreach (var tenant in tenants)
        {
            writer.Enqueue(Status(tenant, TenantState.Disconnected));
        }

        await writer.StopAsync().WithTimeout();
        Assert.Equal(0, writer.PendingCount);
        var stored = await store.ListAsync(CancellationToken.None);
        Assert.Equal(tenants.Length, stored.Count);
        Assert.All(stored, static s => Assert.Equal(TenantState.Disconnected, s.State));
    }

    private StatusWriter NewWriter() => new(_store, _time, new FakeLogger(_logs));

    private TenantStatus Status(TenantId tenant, TenantState state) =>
        new(tenant, state, _time.GetUtcNow(), _time.GetUtcNow(), null, "test-host");
}
