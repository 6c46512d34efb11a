using System.Globalization;
using MultiTenant.Clients;
using MultiTenant.Events;

namespace MultiTenant.Sample.Simulation;

/// <summary>
/// A stand-in for a WhatsApp connection: connects after a short random delay, emits synthetic inbound messages at a configured rate,
/// and injects drops, silent drops and logouts when configured. All timing goes through the tenant's <see cref="TimeProvider"/>.
/// </summary>
public sealed class SimulatedClient : ITenantClient, ITenantClientLogout
{
    private readonly TenantClientContext _context;
    private readonly SimulatorOptions _options;
    private readonly TimeProvider _time;
    private readonly TenantPairingBoard? _pairing;
    private CancellationTokenSource? _session;
    private Task _background = Task.CompletedTask;
    private volatile bool _connected;
    private long _sequence;

    /// <param name="context">The tenant's context.</param>
    /// <param name="options">The simulator settings.</param>
    /// <param name="pairing">Where to show a simulated QR code before connecting, or <see langword="null"/> for an already paired device.</param>
    public SimulatedClient(TenantClientContext context, SimulatorOptions options, TenantPairingBoard? pairing = null)
    {
        _pairing = pairing;
        _context = context;
        _options = options;
        _time = context.TimeProvider;
    }

    public bool IsConnected => _connected;

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
        _background = Task.WhenAll(ProduceMessagesAsync(session.Token), InjectFailuresAsync(session.Token));
    }

    public async Task DisconnectAsync(CancellationToken cancellationToken)
    {
        _connected = false;
        var session = Interlocked.Exchange(ref _session, null);
        if (session is null)
        {
            return;
        }

        await session.CancelAsync().ConfigureAwait(false);
        await _background.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
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

    private async Task ProduceMessagesAsync(CancellationToken cancellationToken)
    {
        double rate = _options.MessagesPerSecond;
        if (rate <= 0)
        {
            return;
        }

        // Ticks of 100 ms; each emits the messages due so far, so high rates do not need a timer per message.
        var period = TimeSpan.FromMilliseconds(100);
        using var timer = new PeriodicTimer(period, _time);
        double due = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                due += rate * period.TotalSeconds;
                for (; due >= 1; due--)
                {
                    long n = Interlocked.Increment(ref _sequence);
                    var message = new MessageEvent
                    {
                        Timestamp = _time.GetUtcNow(),
                        MessageId = "SIMIN." + n.ToString(CultureInfo.InvariantCulture),
                        From = "1555" + (n % 10_000_000).ToString("D7", CultureInfo.InvariantCulture),
                        Type = "text",
                        Text = "Synthetic message #" + n.ToString(CultureInfo.InvariantCulture),
                    };
                    await _context.Events.WriteAsync(message, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            // The tenant is stopping.
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
