namespace MultiTenant.Events;

/// <summary>
/// A writer that can say, for one event, whether every handler returned successfully: the completion signal the durable inbox needs to
/// mark an item done only once it was handled (handled-before-acknowledged). Implemented by the tenant's event queue.
/// </summary>
internal interface IHandledEventWriter
{
    /// <summary>
    /// Queues <paramref name="tenantEvent"/> and completes when every handler has returned for it, with the first failure if any.
    /// Throws as <see cref="ITenantEventWriter.DeliverAsync"/> does (queue closed, event dropped, cancelled).
    /// </summary>
    ValueTask<HandlerOutcome> DeliverHandledAsync(TenantEvent tenantEvent, CancellationToken cancellationToken);
}

/// <summary>How the handlers of one event ended.</summary>
/// <param name="FailedHandler">The type name of the first handler that threw, when one did.</param>
/// <param name="ErrorType">The type name of what it threw (never its message or stack: it may hold anything).</param>
/// <param name="Cancelled">A handler was cancelled by the host's shutdown: the event was not handled completely.</param>
internal readonly record struct HandlerOutcome(string? FailedHandler, string? ErrorType, bool Cancelled)
{
    /// <summary>Every handler returned without throwing and none was cancelled.</summary>
    public bool Succeeded => FailedHandler is null && !Cancelled;

    /// <summary>A short description safe to store and show.</summary>
    public string Describe() => Cancelled && FailedHandler is null
        ? "A handler was cancelled by the host's shutdown."
        : $"Handler {FailedHandler} threw {ErrorType}.";
}

/// <summary>The completion of one delivered event that also records the first handler failure (the queue's reader signals it).</summary>
internal sealed class HandledDelivery() : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
{
    private string? _failedHandler;
    private string? _errorType;
    private bool _cancelled;

    public HandlerOutcome Outcome => new(_failedHandler, _errorType, _cancelled);

    public void RecordFailure(ITenantEventHandler handler, Exception error)
    {
        if (_failedHandler is null)
        {
            _failedHandler = handler.GetType().Name;
            _errorType = error.GetType().Name;
        }
    }

    public void RecordCancelled() => _cancelled = true;
}

/// <content>The handled-delivery path of the queue (<see cref="IHandledEventWriter"/>).</content>
internal sealed partial class TenantEventQueue : IHandledEventWriter
{
    /// <inheritdoc />
    public async ValueTask<HandlerOutcome> DeliverHandledAsync(TenantEvent tenantEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantEvent);
        var delivered = new HandledDelivery();
        await _queue.WriteAsync(QueuedEvent.Create(tenantEvent, delivered), cancellationToken).ConfigureAwait(false);
        await delivered.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return delivered.Outcome;
    }
}
