using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.Clients;
using MultiTenant.Events;
using MultiTenant.Inbox;
using MultiTenant.Storage;

namespace MultiTenant.Core.Tests.Inbox;

public sealed class TenantInboxConsumerTests
{
    private static readonly TenantId Tenant = TenantId.Parse("t1");

    [Fact]
    public async Task Items_are_delivered_in_order_and_marked_done()
    {
        var inbox = new InMemoryTenantInbox();
        var writer = new CollectingWriter();
        await inbox.WriteAsync([Item("a"), Item("b"), Item("c")]);
        var context = new TenantClientContext(Tenant, writer, new InMemoryTenantStore().GetStore(Tenant), NullLogger.Instance, TimeProvider.System, new NoSink(), 0);

        await using (var consumer = new TenantInboxConsumer(inbox, [new TextDecoder()], context, new InboxDeliveryOptions()))
        {
            consumer.Start();
            await writer.WaitForAsync(3);
        }

        Assert.Equal(["a", "b", "c"], writer.Texts);
        Assert.Equal(new InboxCounts(0, 3, 0), await inbox.CountAsync(Tenant));
    }

    private static InboxWrite Item(string key) => new(Tenant, key, "test", "message", Encoding.UTF8.GetBytes(key));

    private sealed class TextDecoder : IInboxEventDecoder
    {
        public string Source => "test";

        public TenantEvent? Decode(InboxItem item) => new MessageEvent { MessageId = item.Key, Text = Encoding.UTF8.GetString(item.Payload.Span) };
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

    private sealed class CollectingWriter : ITenantEventWriter
    {
        private readonly ConcurrentQueue<string> _texts = new();
        private readonly TaskCompletionSource _enough = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _expected = int.MaxValue;

        public string[] Texts => _texts.ToArray();

        public ValueTask WriteAsync(TenantEvent tenantEvent, CancellationToken cancellationToken = default) => DeliverAsync(tenantEvent, cancellationToken);

        public ValueTask DeliverAsync(TenantEvent tenantEvent, CancellationToken cancellationToken = default)
        {
            _texts.Enqueue(((MessageEvent)tenantEvent).Text!);
            if (_texts.Count >= Volatile.Read(ref _expected))
            {
                _enough.TrySetResult();
            }

            return ValueTask.CompletedTask;
        }

        public Task WaitForAsync(int count)
        {
            Volatile.Write(ref _expected, count);
            if (_texts.Count >= count)
            {
                _enough.TrySetResult();
            }

            return _enough.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }
}
