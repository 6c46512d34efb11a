using System.Globalization;
using Microsoft.Extensions.Options;
using MultiTenant.Events;
using MultiTenant.Hosting;

namespace MultiTenant.Sample.Handling;

/// <summary>
/// Appends a <c>start</c> and a <c>done</c> line per message and receipt to <see cref="HandlingOptions.AuditFile"/> (registered only
/// when it is set), with the event id handlers de-duplicate by, so a test can see every handling of every event on every host.
/// </summary>
public sealed class AuditingEventHandler(IOptions<HandlingOptions> options, IOptions<TenantCoordinatorOptions> coordinator, TimeProvider time)
    : ITenantEventHandler, IDisposable
{
    private readonly Lock _gate = new();
    private StreamWriter? _audit;

    public async ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
    {
        string? eventId = tenantEvent switch
        {
            MessageEvent message => message.MessageId,
            ReceiptEvent receipt => receipt.MessageId + ":" + receipt.Status.ToString().ToLowerInvariant(),
            _ => null,
        };
        if (eventId is null)
        {
            return;
        }

        Write("start", tenant, eventId);
        var delay = options.Value.Delay;
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
        }

        Write("done", tenant, eventId);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _audit?.Dispose();
        }
    }

    private void Write(string what, TenantId tenant, string eventId)
    {
        lock (_gate)
        {
            // AutoFlush: a line is in the file once written, so a kill -9 loses at most the line being written.
            _audit ??= new StreamWriter(new FileStream(options.Value.AuditFile!, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
            _audit.WriteLine(string.Create(
                CultureInfo.InvariantCulture, $"{what} {tenant} {eventId} {coordinator.Value.HostId} {time.GetUtcNow().ToUnixTimeMilliseconds()}"));
        }
    }
}
