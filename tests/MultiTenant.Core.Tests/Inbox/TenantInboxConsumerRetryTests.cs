using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.Clients;
using MultiTenant.Events;
using MultiTenant.Inbox;
using MultiTenant.Storage;
using MultiTenant.Tests.Events;
using MultiTenant.Tests.Infrastructure;

namespace MultiTenant.Core.Tests.Inbox;

/// <summary>
/// The consumer on a real tenant event queue with a fake clock: retries wait for their backoff (time is advanced only once the consumer
/// waits on that timer), dead letters, shutdown and duplicates.
/// </summary>
public sealed class TenantInboxConsumerRetryTests
{
    private const string TenantName = "tenant-a";
    private static readonly TenantId Tenant = TenantId.Parse(TenantName);
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Handler_that_throws_three_times_then_succeeds_is_handled_once_in_order_and_later_items_wait()
    {
        await using var queues = new QueueFixture();
        var handler = new ScriptedHandler(failuresOf: new() { ["a"] = 3 });
        var inbox = new InMemoryTenantInbox(queues.Time);
        await inbox.WriteAsync([Item("a"), Item("b")]);

        await using (var consumer = Consumer(inbox, queues, handler, maxAttempts: 10))
        {
            consumer.Start();
            for (int failure = 1; failure <= 3; failure++)
            {
                await handler.WaitForCallsAsync(failure);
                Assert.Equal(failure, handler.Calls.Count);
                Assert.DoesNotContain("b", handler.Calls); // b waits behind the failed a
                await AdvanceThroughRetryAsync(queues.Time);
            }

            await handler.WaitForHandledAsync(2);
        }

        Assert.Equal(["a", "a", "a", "a", "b"], handler.Calls);
        Assert.Equal(["a", "b"], handler.Handled);
        Assert.Equal(new InboxCounts(0, 2, 0), await inbox.CountAsync(Tenant));
    }

    [Fact]
    public async Task Handler_that_always_throws_makes_a_dead_letter_with_a_short_reason_and_the_next_item_goes_on()
    {
        await using var queues = new QueueFixture();
        var handler = new ScriptedHandler(failuresOf: new() { ["a"] = int.MaxValue });
        var inbox = new InMemoryTenantInbox(queues.Time);
        await inbox.WriteAsync([Item("a"), Item("b")]);

        await using (var consumer = Consumer(inbox, queues, handler, maxAttempts: 3))
        {
            consumer.Start();
            for (int failure = 1; failure < 3; failure++)
            {
                await handler.WaitForCallsAsync(failure);
                await AdvanceThroughRetryAsync(queues.Time);
            }

            await handler.WaitForHandledAsync(1);
        }

        Assert.Equal(["a", "a", "a", "b"], handler.Calls);
        Assert.Equal(["b"], handler.Handled);
        var dead = Assert.Single(await inbox.ListDeadLettersAsync(Tenant, 10));
        Assert.Equal("a", dead.Key);
        Assert.Equal(3, dead.Attempts);
        Assert.Equal($"Handler {nameof(ScriptedHandler)} threw {nameof(InvalidOperationException)}.", dead.LastError);
        Assert.DoesNotContain("secret", dead.LastError, StringComparison.Ordinal);
        Assert.Equal(new InboxCounts(0, 1, 1), await inbox.CountAsync(Tenant));
    }

    [Fact]
    public async Task Handler_cancelled_at_shutdown_leaves_the_item_pending_and_the_next_run_delivers_it_again()
    {
        var inbox = new InMemoryTenantInbox();
        await inbox.WriteAsync([Item("a"), Item("b")]);
        var gate = new HandlerGate();
        var first = new ScriptedHandler(gate: gate);

        await using (var queues = new QueueFixture())
        {
            var consumer = Consumer(inbox, queues, first, maxAttempts: 10);
            consumer.Start();
            await gate.Entered;

            // Shutdown: the client disposes its consumer (which waits for the item being handled) and the host cancels the handlers.
            var stopping = consumer.DisposeAsync().AsTask();
            await queues.Abort.CancelAsync();
            await stopping.WithTimeout();
        }

        Assert.Empty(first.Handled);
        Assert.Equal(new InboxCounts(2, 0, 0), await inbox.CountAsync(Tenant));

        var second = new ScriptedHandler();
        await using (var queues = new QueueFixture())
        {
            await using var consumer = Consumer(inbox, queues, second, maxAttempts: 10);
            consumer.Start();
            await second.WaitForHandledAsync(2);
        }

        Assert.Equal(["a", "b"], second.Handled);
        Assert.Equal(new InboxCounts(0, 2, 0), await inbox.CountAsync(Tenant));
    }

    [Fact]
    public async Task Duplicates_in_one_write_across_writes_and_after_handling_are_handled_once()
    {
        await using var queues = new QueueFixture();
        var handler = new ScriptedHandler();
        var inbox = new InMemoryTenantInbox(queues.Time);

        Assert.Equal(new InboxWriteResult(2, 1), await inbox.WriteAsync([Item("a"), Item("a"), Item("b")]));
        await using (var consumer = Consumer(inbox, queues, handler, maxAttempts: 10))
        {
            consumer.Start();
            await handler.WaitForHandledAsync(2);
            Assert.Equal(new InboxWriteResult(1, 2), await inbox.WriteAsync([Item("a"), Item("b"), Item("c")]));
            await handler.WaitForHandledAsync(3);
        }

        Assert.Equal(["a", "b", "c"], handler.Calls);
        Assert.Equal(new InboxCounts(0, 3, 0), await inbox.CountAsync(Tenant));
    }

    /// <summary>Waits until the consumer waits on a retry timer (at most one step), then moves time past it.</summary>
    private static async Task AdvanceThroughRetryAsync(TestTimeProvider time)
    {
        await time.WaitForTimerAsync(t => t.DueTime > TimeSpan.Zero && t.DueTime <= Step);
        time.Advance(Step);
    }

    private static TenantInboxConsumer Consumer(InMemoryTenantInbox inbox, QueueFixture queues, ScriptedHandler handler, int maxAttempts)
    {
        var queue = queues.Create(TenantName, [handler]);
        var context = new TenantClientContext(
            Tenant, queue, new InMemoryTenantStore().GetStore(Tenant), NullLogger.Instance, queues.Time, new NoSink(), ownershipEpoch: 0);
        var options = new InboxDeliveryOptions
        {
            MaxAttempts = maxAttempts,
            RetryBaseDelay = Step,
            RetryMaxDelay = Step,
            PollInterval = TimeSpan.FromMinutes(10), // never reached: the fake clock only moves for retries
        };
        return new TenantInboxConsumer(inbox, [new TextDecoder()], context, options);
    }

    private static InboxWrite Item(string key) => new(Tenant, key, "test", "message", Encoding.UTF8.GetBytes(key));

    private sealed class TextDecoder : IInboxEventDecoder
    {
        public string Source => "test";

        public TenantEvent? Decode(InboxItem item) => new MessageEvent { MessageId = item.Key, Text = Encoding.UTF8.GetString(item.Payload.Span) };
    }

    /// <summary>Records every call; throws for the first N calls of a key; optionally waits on a gate (cancellable by shutdown).</summary>
    private sealed class ScriptedHandler(Dictionary<string, int>? failuresOf = null, HandlerGate? gate = null) : ITenantEventHandler
    {
        private readonly Dictionary<string, int> _failuresLeft = failuresOf ?? [];
        private readonly ConcurrentQueue<string> _calls = new();
        private readonly ConcurrentQueue<string> _handled = new();
        private readonly Lock _gate = new();
        private readonly List<(Func<bool> Done, TaskCompletionSource Signal)> _waiters = [];

        public List<string> Calls => [.. _calls];

        public List<string> Handled => [.. _handled];

        public async ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
        {
            string key = ((MessageEvent)tenantEvent).Text!;
            _calls.Enqueue(key);
            try
            {
                if (gate is not null)
                {
                    await gate.WaitAsync(cancellationToken);
                }

                lock (_gate)
                {
                    if (_failuresLeft.TryGetValue(key, out int left) && left > 0)
                    {
                        _failuresLeft[key] = left - 1;
                        throw new InvalidOperationException("secret detail of " + key);
                    }
                }

                _handled.Enqueue(key);
            }
            finally
            {
                Changed();
            }
        }

        public Task WaitForCallsAsync(int count) => WaitForAsync(() => _calls.Count >= count);

        public Task WaitForHandledAsync(int count) => WaitForAsync(() => _handled.Count >= count);

        private Task WaitForAsync(Func<bool> done)
        {
            lock (_gate)
            {
                if (done())
                {
                    return Task.CompletedTask;
                }

                var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((done, signal));
                return signal.Task.WithTimeout();
            }
        }

        private void Changed()
        {
            lock (_gate)
            {
                _waiters.RemoveAll(static w => w.Done() && w.Signal.TrySetResult());
            }
        }
    }

    private sealed class NoSink : ITenantConnectionSink
    {
        public void OnDisconnected(string? reason)
        {
        }

        public void OnFatal(TenantFatalReason reason, string message)
        {
        }
    }
}
