using MultiTenant.Clients;
using MultiTenant.Inbox;
using MultiTenant.Wuzapi.Diagnostics;
using MultiTenant.Wuzapi.Engine;
using MultiTenant.Wuzapi.Users;

namespace MultiTenant.Wuzapi.Client;

/// <summary>
/// One tenant's client for a wuzapi engine. The engine runs the WhatsApp Web session (whatsmeow); this client maps the tenant's
/// lifecycle onto the engine user's session calls: connect = ensure the engine user, <c>POST /session/connect</c> when no session
/// runs, then wait until <c>GET /session/status</c> says <c>LoggedIn</c> (pairing through the pairing board while it does not); health
/// check = <c>Connected</c> and <c>LoggedIn</c>; disconnect = <c>POST /session/disconnect</c> (the engine keeps the device, so the next
/// connect, on any host, needs no QR code); logout = <c>POST /session/logout</c>.
/// </summary>
/// <remarks>
/// <para>A session that was paired and is no longer logged in was logged out from the phone: the tenant stops with
/// <see cref="TenantFatalReason.LoggedOut"/>. An unreachable engine is a transient failure (the coordinator reconnects with backoff).</para>
/// <para>Inbound events arrive through the webhook on any host and wait in the tenant's durable inbox; while connected the client
/// runs the <see cref="TenantInboxConsumer"/> that delivers them, so only the host that runs the tenant handles them.</para>
/// <para>Split by responsibility: lifecycle here, pairing in <c>WuzapiClient.Pairing.cs</c>, sending in <c>WuzapiClient.Send.cs</c>.</para>
/// </remarks>
internal sealed partial class WuzapiClient : ITenantClient, ITenantClientLogout
{
    private readonly TenantClientContext _context;
    private readonly WuzapiServices _services;
    private EngineUser? _user;
    private WuzapiEngineApi? _engine;
    private volatile bool _connected;
    private TenantInboxConsumer? _consumer;
    private int _disposed;

    public WuzapiClient(TenantClientContext context, WuzapiServices services)
    {
        _context = context;
        _services = services;
    }

    public TenantId Tenant => _context.BusinessId;

    public bool IsConnected => _connected;

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var (user, engine) = await _services.Users.EnsureAsync(_context.State, cancellationToken).ConfigureAwait(false);
        _user = user;
        _engine = engine;
        var status = await engine.GetStatusAsync(user.Token, cancellationToken).ConfigureAwait(false);
        if (status is not { Connected: true })
        {
            await engine.ConnectAsync(user.Token, _services.Options.Events, cancellationToken).ConfigureAwait(false);
            status = await engine.GetStatusAsync(user.Token, cancellationToken).ConfigureAwait(false);
        }

        if (status is not { LoggedIn: true })
        {
            await WaitForLoginAsync(user, engine, cancellationToken).ConfigureAwait(false);
        }

        _user = await _services.Users.SetPairedAsync(_context.State, _user!, paired: true, cancellationToken).ConfigureAwait(false);
        _connected = true;
        if (Volatile.Read(ref _consumer) is null)
        {
            // The supervisor connects and disconnects one at a time; the exchange only guards against a dispose racing the start.
            var consumer = _services.StartConsumer(_context);
            if (Interlocked.CompareExchange(ref _consumer, consumer, null) is not null || Volatile.Read(ref _disposed) != 0)
            {
                await consumer.DisposeAsync().ConfigureAwait(false);
                Interlocked.CompareExchange(ref _consumer, null, consumer);
            }
        }
    }

    public async ValueTask<bool> CheckHealthAsync(CancellationToken cancellationToken)
    {
        if (!_connected || _user is not { } user || _engine is not { } engine)
        {
            return false;
        }

        SessionStatus? status;
        try
        {
            status = await engine.GetStatusAsync(user.Token, cancellationToken).ConfigureAwait(false);
        }
        catch (WuzapiEngineException ex)
        {
            // Unreachable, or 401 (the engine lost the user): not alive; the reconnect ensures the user again.
            Log.EngineCallFailed(_context.Logger, Tenant.Value, ex.Message);
            return false;
        }

        if (status is { Connected: true, LoggedIn: false } && await engine.GetQrAsync(user.Token, cancellationToken).ConfigureAwait(false) is not null)
        {
            // Connected, no device, and the engine offers a QR code: the device was unlinked in WhatsApp ("Linked devices" → log out).
            await OnLoggedOutFromPhoneAsync(cancellationToken).ConfigureAwait(false);
            throw new TenantFatalException(TenantFatalReason.LoggedOut, LoggedOutMessage);
        }

        // No session (the engine restarted, or whatsmeow stopped it after a logout from the phone): reconnect finds out which.
        return status is { Connected: true, LoggedIn: true };
    }

    public async Task DisconnectAsync(CancellationToken cancellationToken)
    {
        bool wasConnected = _connected;
        _connected = false;
        await StopConsumerAsync().ConfigureAwait(false);
        if (wasConnected && _user is { } user && _engine is { } engine)
        {
            try
            {
                // The engine keeps the paired device: the next connect (here or on the tenant's next host) needs no QR code.
                await engine.DisconnectAsync(user.Token, cancellationToken).ConfigureAwait(false);
            }
            catch (WuzapiEngineException ex)
            {
                Log.EngineCallFailed(_context.Logger, Tenant.Value, ex.Message);
            }
        }
    }

    public async Task LogoutAsync(CancellationToken cancellationToken)
    {
        var (user, engine) = _user is { } known && _engine is { } api ? (known, api) : await _services.Users.EnsureAsync(_context.State, cancellationToken).ConfigureAwait(false);
        try
        {
            await engine.LogoutAsync(user.Token, cancellationToken).ConfigureAwait(false);
        }
        catch (WuzapiEngineException ex) when (ex.StatusCode == 500)
        {
            // "No session" or not logged in: there is no device to unlink at the engine; forgetting it here is what is left.
        }

        _connected = false;
        _user = await _services.Users.SetPairedAsync(_context.State, user, paired: false, cancellationToken).ConfigureAwait(false);
        Log.LoggedOut(_context.Logger, Tenant.Value, "through the logout endpoint");
        _context.ReportFatal(TenantFatalReason.LoggedOut, "The device was logged out (POST /session/logout). Start the tenant again to pair a phone.");
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _connected = false;
        _services.Pairing.Clear(Tenant);
        await StopConsumerAsync().ConfigureAwait(false);
    }

    private const string LoggedOutMessage =
        "The device was logged out from the phone (WhatsApp → Linked devices). Start the tenant again to pair it with a new QR code.";

    private async Task OnLoggedOutFromPhoneAsync(CancellationToken cancellationToken)
    {
        _connected = false;
        if (_user is { } user)
        {
            _user = await _services.Users.SetPairedAsync(_context.State, user, paired: false, cancellationToken).ConfigureAwait(false);
        }

        Log.LoggedOut(_context.Logger, Tenant.Value, "from the phone");
    }

    private async Task StopConsumerAsync()
    {
        if (Interlocked.Exchange(ref _consumer, null) is { } consumer)
        {
            await consumer.DisposeAsync().ConfigureAwait(false);
        }
    }
}
