using MultiTenant.Events;

namespace MultiTenant.Tests.Events;

public sealed class HandledDeliveryTests
{
    [Fact]
    public async Task Outcome_names_the_first_failing_handler_and_the_exception_type_but_not_its_message()
    {
        await using var queues = new QueueFixture();
        var queue = queues.Create("tenant-a", [new Throwing(), new Throwing()]);

        var outcome = await queue.DeliverHandledAsync(new MessageEvent { MessageId = "m1" }, CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.False(outcome.Cancelled);
        Assert.Equal(nameof(Throwing), outcome.FailedHandler);
        Assert.Equal(nameof(InvalidOperationException), outcome.ErrorType);
        Assert.DoesNotContain("secret", outcome.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Outcome_succeeds_when_every_handler_returned()
    {
        await using var queues = new QueueFixture();
        var queue = queues.Create("tenant-a", [new Passing()]);

        var outcome = await queue.DeliverHandledAsync(new MessageEvent { MessageId = "m1" }, CancellationToken.None);

        Assert.True(outcome.Succeeded);
    }

    private sealed class Throwing : ITenantEventHandler
    {
        public ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("secret detail");
    }

    private sealed class Passing : ITenantEventHandler
    {
        public ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
