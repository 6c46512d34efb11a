using MultiTenant.Events;

namespace MultiTenant.Sample;

/// <summary>Shows events arriving: logs every tenant event.</summary>
public sealed partial class LoggingEventHandler(ILogger<LoggingEventHandler> logger) : ITenantEventHandler
{
    public ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
    {
        switch (tenantEvent)
        {
            case MessageEvent message:
                LogMessage(logger, tenant.Value, message.From, message.MessageId, message.Text);
                break;
            case TenantConnectedEvent:
                LogLifecycle(logger, tenant.Value, "connected", null);
                break;
            case TenantDisconnectedEvent disconnected:
                LogLifecycle(logger, tenant.Value, "disconnected", disconnected.Reason);
                break;
            case TenantFaultedEvent faulted:
                LogLifecycle(logger, tenant.Value, "faulted", faulted.Error);
                break;
            default:
                LogOther(logger, tenant.Value, tenantEvent.GetType().Name);
                break;
        }

        return ValueTask.CompletedTask;
    }

    [LoggerMessage(1, LogLevel.Information, "[{BusinessId}] message {MessageId} from {From}: {Text}")]
    private static partial void LogMessage(ILogger logger, string businessId, string from, string messageId, string? text);

    [LoggerMessage(2, LogLevel.Information, "[{BusinessId}] {Event} {Detail}")]
    private static partial void LogLifecycle(ILogger logger, string businessId, string @event, string? detail);

    [LoggerMessage(3, LogLevel.Information, "[{BusinessId}] {EventType}")]
    private static partial void LogOther(ILogger logger, string businessId, string eventType);
}
