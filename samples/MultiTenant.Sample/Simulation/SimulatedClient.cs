using System.Globalization;
using MultiTenant.Clients;
using MultiTenant.Events;

namespace MultiTenant.Sample.Simulation;

/// <summary>
/// A stand-in for a WhatsApp connection: connects after a short random delay, receives synthetic inbound messages at a configured rate
/// (from <see cref="SimulatedTraffic"/>, one timer for all clients), and injects drops, silent drops and logouts when configured. All timing goes through the tenant's <see cref="TimeProvider"/>.
/// </summary>
public sealed class SimulatedClient : ITenantClient, ITenantClientLogout
{
    private readonly TenantClientContext _context;
    private readonly SimulatorOptions _options;
    private readonly TimeProvider _time;
    private readonly TenantPairingBoard? _pairing;
    private CancellationTokenSource? _session;
    private Task _background = Task.CompletedTask;
    private Task _pendingWrite = Task.CompletedTask;
    private readonly SimulatedTraffic _traffic;
    private volatile bool _connected;
    private volatile bool _writing;
    private long _sequence;

    /// <param name="context">The tenant's context.</param>
    /// <param name="options">The simulator settings.</param>
    /// <param name="traffic">The process's synthetic traffic, which sends this client its messages while it is connected.</param>
    /// <param name="pairing">Where to show a simulated QR code before connecting, or <see langword="null"/> for an already paired device.</param>
    public SimulatedClient(TenantClientContext context, SimulatorOptions options, SimulatedTraffic traffic, TenantPairingBoard? pairing = null)
    {
        _traffic = traffic;
        _pairing = pairing;
        _context = context;
        _options = options;
        _time = context.TimeProvider;
    }

    public bool IsConnected => _connected;

    /// <summary>This client's place in <see cref="SimulatedTraffic"/>'s list, or -1 (guarded by its lock).</summary>
    internal int TrafficIndex { get; set; } = -1;

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        if (_pairing is not null)
        {
            await PairAsync(_pairing, cancellationToken).ConfigureAwait(false);
        }

        var min = _options.ConnectDelayMin;
        var max = _options.ConnectDelayMax < min ? min : _options.ConnectDelayMax;
        var delay = min + TimeSpan.FromTicks((long)((max - min).Ticks * Random.Shared.NextDouble()));
        await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
        if (Random.Shared.NextDouble() < _options.ConnectFailureProbability)
        {
            throw new IOException("Simulated connect failure.");
        }

        var session = new CancellationTokenSource();
        _session = session;
        _connected = true;
        _background = InjectFailuresAsync(session.Token);
        _traffic.Add(this);
    }

    public async Task DisconnectAsync(CancellationToken cancellationToken)
    {
        _connected = false;
        _traffic.Remove(this);
        var session = Interlocked.Exchange(ref _session, null);
        if (session is null)
        {
            return;
        }

        await session.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_background, _pendingWrite).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        session.Dispose();
    }

    public ValueTask<bool> CheckHealthAsync(CancellationToken cancellationToken) => ValueTask.FromResult(_connected);

    public Task<SendMessageResult> SendMessageAsync(OutboundMessage message, CancellationToken cancellationToken)
    {
        if (!_connected)
        {
            throw new TenantSendException("The simulated connection is down.", isTransient: true);
        }

        var id = "SIM." + Interlocked.Increment(ref _sequence).ToString(CultureInfo.InvariantCulture) + "." + Random.Shared.Next().ToString("X8", CultureInfo.InvariantCulture);
        return Task.FromResult(new SendMessageResult(id));
    }

    /// <summary>The logout capability: forgets the simulated device (the tenant's state) and reports the tenant logged out.</summary>
    public async Task LogoutAsync(CancellationToken cancellationToken)
    {
        await DisconnectAsync(cancellationToken).ConfigureAwait(false);
        await _context.State.ClearAsync(cancellationToken).ConfigureAwait(false);
        _context.ReportFatal(TenantFatalReason.LoggedOut, "The device was logged out through the API (simulated).");
    }

    public async ValueTask DisposeAsync()
    {
        _pairing?.Clear(_context.BusinessId);
        await DisconnectAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Shows a simulated QR code, renewed every 20 s like WhatsApp's, until the simulated scan (or forever).</summary>
    private async Task PairAsync(TenantPairingBoard pairing, CancellationToken cancellationToken)
    {
        var validity = TimeSpan.FromSeconds(20);
        var scanAt = _options.PairingDelay > TimeSpan.Zero ? _time.GetUtcNow() + _options.PairingDelay : DateTimeOffset.MaxValue;
        try
        {
            while (true)
            {
                var now = _time.GetUtcNow();
                if (now >= scanAt)
                {
                    break;
                }

                // The shape of a WhatsApp multi-device QR payload (ref,noise key,identity key,adv secret), with random content.
                var qr = "2@" + Convert.ToBase64String(RandomBytes(24)) + "," + Convert.ToBase64String(RandomBytes(32)) + ","
                    + Convert.ToBase64String(RandomBytes(32)) + "," + Convert.ToBase64String(RandomBytes(32));
                pairing.Show(new TenantPairingChallenge(_context.BusinessId, qr, null, now + validity));
                var wait = scanAt - now < validity ? scanAt - now : validity;
                await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            pairing.Clear(_context.BusinessId);
        }

        static byte[] RandomBytes(int n)
        {
            var bytes = new byte[n];
            Random.Shared.NextBytes(bytes);
            return bytes;
        }
    }

    /// <summary>
    /// Writes one synthetic inbound message (called by <see cref="SimulatedTraffic"/>'s tick). <see langword="false"/> when this
    /// client is not connected or its previous write still waits for room in the tenant's queue.
    /// </summary>
    internal bool TryEmit()
    {
        var session = _session;
        if (!_connected || session is null || _writing)
        {
            return false;
        }

        long n = Interlocked.Increment(ref _sequence);
        var message = new MessageEvent
        {
            Timestamp = _time.GetUtcNow(),
            MessageId = "SIMIN." + n.ToString(CultureInfo.InvariantCulture),
            From = "1555" + (n % 10_000_000).ToString("D7", CultureInfo.InvariantCulture),
            Type = "text",
            Text = "Synthetic message #" + n.ToString(CultureInfo.InvariantCulture),
        };
        ValueTask write;
        try
        {
            write = _context.Events.WriteAsync(message, session.Token);
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            return false; // the tenant is stopping
        }

        if (write.IsCompletedSuccessfully)
        {
            write.GetAwaiter().GetResult();
            return true;
        }

        // The queue is full (backpressure): wait for the write off the tick, and take no more messages until it is done.
        _writing = true;
        _pendingWrite = AwaitWriteAsync(write);
        return true;
    }

    private async Task AwaitWriteAsync(ValueTask write)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The session ended while the queue was full.
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            // The tenant is stopping.
        }
        finally
        {
            _writing = false;
        }
    }

    private async Task InjectFailuresAsync(CancellationToken cancellationToken)
    {
        var (kind, after) = NextFailure();
        if (kind is null)
        {
            return;
        }

        try
        {
            await Task.Delay(after, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        switch (kind)
        {
            case "drop":
                _connected = false;
                _context.ReportDisconnected("Simulated connection drop.");
                break;
            case "silent":
                _connected = false; // not reported: the coordinator's health check finds it
                break;
            case "logout":
                _connected = false;
                _context.ReportFatal(TenantFatalReason.LoggedOut, "The device was logged out (simulated).");
                break;
        }
    }

    private (string? Kind, TimeSpan After) NextFailure()
    {
        (string? Kind, TimeSpan After) next = (null, TimeSpan.MaxValue);
        Consider(ref next, "drop", _options.DropAfter, jitter: true);
        Consider(ref next, "silent", _options.SilentDropAfter, jitter: true);
        Consider(ref next, "logout", _options.LogoutAfter, jitter: false);
        return next;

        static void Consider(ref (string? Kind, TimeSpan After) next, string kind, TimeSpan mean, bool jitter)
        {
            if (mean <= TimeSpan.Zero)
            {
                return;
            }

            // Exponentially distributed around the mean, like independent failures.
            var after = jitter ? TimeSpan.FromTicks((long)(-Math.Log(1 - Random.Shared.NextDouble()) * mean.Ticks)) : mean;
            if (after < next.After)
            {
                next = (kind, after);
            }
        }
    }
}
