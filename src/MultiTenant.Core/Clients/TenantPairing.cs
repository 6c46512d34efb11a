using System.Threading.Channels;

namespace MultiTenant.Clients;

/// <summary>
/// A pairing step a client is waiting on: a QR code to scan with the phone, or a pairing code to type into it.
/// </summary>
/// <param name="BusinessId">The tenant being paired.</param>
/// <param name="QrCode">The text to encode as a QR code (for WhatsApp multi-device, the <c>ref,key,key,adv</c> string), or <see langword="null"/>.</param>
/// <param name="PairingCode">A code to enter on the phone instead of scanning, or <see langword="null"/>.</param>
/// <param name="ExpiresAt">When this challenge stops being valid (UTC); clients usually show a new one then.</param>
public sealed record TenantPairingChallenge(TenantId BusinessId, string? QrCode, string? PairingCode, DateTimeOffset ExpiresAt);

/// <summary>
/// The optional pairing surface of clients: a client that has to be paired (a QR code or a pairing code) shows its current challenge
/// here and clears it once paired or stopped; the dashboard and any other reader see the challenges live. Registered as a singleton
/// by <c>AddWhatsAppTenants()</c>; clients that never pair ignore it. Thread-safe.
/// </summary>
public sealed class TenantPairingBoard
{
    private readonly Dictionary<TenantId, TenantPairingChallenge> _current = [];
    private readonly Broadcast<TenantPairingUpdate> _updates = new();
    private readonly Lock _gate = new();

    /// <summary>Shows <paramref name="challenge"/> as its tenant's current pairing step, replacing any previous one.</summary>
    public void Show(TenantPairingChallenge challenge)
    {
        ArgumentNullException.ThrowIfNull(challenge);
        lock (_gate)
        {
            _current[challenge.BusinessId] = challenge;
            _updates.Publish(new TenantPairingUpdate(challenge.BusinessId, challenge));
        }
    }

    /// <summary>Clears the pairing step of <paramref name="tenant"/> (paired, given up or stopped). No-op when it has none.</summary>
    public void Clear(TenantId tenant)
    {
        lock (_gate)
        {
            if (_current.Remove(tenant))
            {
                _updates.Publish(new TenantPairingUpdate(tenant, null));
            }
        }
    }

    /// <summary>The current pairing step of <paramref name="tenant"/>, or <see langword="null"/>.</summary>
    public TenantPairingChallenge? Get(TenantId tenant)
    {
        lock (_gate)
        {
            return _current.GetValueOrDefault(tenant);
        }
    }

    /// <summary>Every current pairing step, in no particular order.</summary>
    public IReadOnlyList<TenantPairingChallenge> GetAll()
    {
        lock (_gate)
        {
            return [.. _current.Values];
        }
    }

    /// <summary>
    /// Reads every change from this call on until <paramref name="cancellationToken"/> is cancelled. A reader that falls more than 256 changes
    /// behind loses the oldest (read <see cref="GetAll"/> again to resynchronise).
    /// </summary>
    public IAsyncEnumerable<TenantPairingUpdate> ReadChangesAsync(CancellationToken cancellationToken) => _updates.ReadAllAsync(cancellationToken);
}

/// <summary>A change of a tenant's pairing step.</summary>
/// <param name="BusinessId">The tenant.</param>
/// <param name="Challenge">The new pairing step, or <see langword="null"/> when it was cleared.</param>
public sealed record TenantPairingUpdate(TenantId BusinessId, TenantPairingChallenge? Challenge);

/// <summary>Fans items out to live readers, each through its own small lossy channel, so a slow reader never delays a publisher.</summary>
internal sealed class Broadcast<T>
{
    // Bounded so a reader that stops reading (a browser tab in the background) costs at most 256 items; when full the oldest item is
    // dropped: readers of these feeds are views that can resynchronise from a snapshot.
    private const int ReaderCapacity = 256;
    private readonly Lock _gate = new();
    private Channel<T>[] _readers = [];

    public bool HasReaders => Volatile.Read(ref _readers).Length > 0;

    public void Publish(T item)
    {
        var readers = Volatile.Read(ref _readers);
        for (int i = 0; i < readers.Length; i++)
        {
            readers[i].Writer.TryWrite(item);
        }
    }

    /// <summary>Registers a reader at once (so nothing published after this call is missed) and reads until cancelled.</summary>
    public IAsyncEnumerable<T> ReadAllAsync(CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<T>(new BoundedChannelOptions(ReaderCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (_gate)
        {
            _readers = [.. _readers, channel];
        }

        return ReadAsync(channel, cancellationToken);
    }

    private async IAsyncEnumerable<T> ReadAsync(Channel<T> channel, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            while (await channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (channel.Reader.TryRead(out var item))
                {
                    yield return item;
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _readers = Array.FindAll(_readers, r => r != channel);
            }
        }
    }
}
