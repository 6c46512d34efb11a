using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MultiTenant.Storage;

namespace MultiTenant.CloudApi.Webhooks;

/// <summary>
/// Remembers which webhook messages and status updates one tenant has delivered, so Meta's redeliveries (it retries for days) are
/// handled once. Durable through the tenant's <see cref="ITenantStateStore"/>: with the PostgreSQL store it survives restarts and
/// moves with the tenant between hosts.
/// </summary>
/// <remarks>
/// <para>Layout in the state store (all under the tenant, so one tenant cannot see another's):</para>
/// <list type="bullet">
/// <item><c>cloudapi.dedup</c> / <c>{key}</c>: one entry per delivered id (<c>m/{wamid}</c> for a message,
/// <c>s/{status}/{wamid}</c> for a status update, since a message has several statuses). The lookup is one read.</item>
/// <item><c>cloudapi.dedup.{yyyyMMdd}</c> / <c>{key}</c>: the same keys bucketed by the UTC day they were recorded, and
/// <c>cloudapi.dedup.days</c> / <c>{yyyyMMdd}</c>: the days that have a bucket. Expiry works by whole buckets: a bucket is removed
/// (its keys deleted from both namespaces) once the window has passed since the end of its day, without reading any value.</item>
/// </list>
/// <para>In front of the store, a two-generation in-memory set of recent keys also claims keys in flight, so the same delivery
/// arriving twice at once is handled once.</para>
/// </remarks>
internal sealed class WebhookDeduplicator
{
    public const string Namespace = "cloudapi.dedup";
    public const string DaysNamespace = "cloudapi.dedup.days";
    public const string BucketPrefix = "cloudapi.dedup.d";

    private const int GenerationSize = 4096;
    private static readonly byte[] Marker = [1];

    private readonly ITenantStateStore _store;
    private readonly TimeProvider _time;
    private readonly TimeSpan _window;
    private readonly Lock _gate = new();
    private HashSet<string> _current = new(StringComparer.Ordinal);
    private HashSet<string> _previous = new(StringComparer.Ordinal);
    private string? _registeredDay;

    public WebhookDeduplicator(ITenantStateStore store, TimeProvider time, TimeSpan window)
    {
        _store = store;
        _time = time;
        _window = window;
    }

    public static string MessageKey(string messageId) => Bound("m/" + messageId);

    public static string StatusKey(string messageId, string status) => Bound("s/" + status + "/" + messageId);

    /// <summary>Claims <paramref name="key"/> in memory. <see langword="false"/> when it was seen recently or is in flight.</summary>
    public bool TryClaim(string key)
    {
        lock (_gate)
        {
            if (_current.Contains(key) || _previous.Contains(key))
            {
                return false;
            }

            if (_current.Count >= GenerationSize)
            {
                _previous = _current;
                _current = new HashSet<string>(StringComparer.Ordinal);
            }

            _current.Add(key);
            return true;
        }
    }

    /// <summary>Gives up a claim whose delivery failed, so a redelivery is handled.</summary>
    public void Release(string key)
    {
        lock (_gate)
        {
            _current.Remove(key);
            _previous.Remove(key);
        }
    }

    /// <summary>Whether the store has recorded <paramref name="key"/> as delivered.</summary>
    public async ValueTask<bool> IsRecordedAsync(string key, CancellationToken cancellationToken) =>
        await _store.GetAsync(Namespace, key, cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>Records delivered keys in the store, bucketed by today's date.</summary>
    public async ValueTask RecordAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        string day = _time.GetUtcNow().UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        if (!string.Equals(Volatile.Read(ref _registeredDay), day, StringComparison.Ordinal))
        {
            await _store.SetAsync(DaysNamespace, day, Marker, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _registeredDay, day);
        }

        string bucket = BucketPrefix + day;
        var value = Encoding.ASCII.GetBytes(day);
        for (int i = 0; i < keys.Count; i++)
        {
            // The bucket entry first: a crash between the two leaves a bucket entry without an id (harmless to delete), never an id
            // that no bucket would expire.
            await _store.SetAsync(bucket, keys[i], Marker, cancellationToken).ConfigureAwait(false);
            await _store.SetAsync(Namespace, keys[i], value, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Removes the buckets whose window has passed. Returns how many ids were removed.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        int removed = 0;
        var days = await _store.ListKeysAsync(DaysNamespace, cancellationToken).ConfigureAwait(false);
        foreach (var day in days)
        {
            if (!DateTime.TryParseExact(day, "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var date))
            {
                await _store.DeleteAsync(DaysNamespace, day, cancellationToken).ConfigureAwait(false);
                continue;
            }

            // Everything in the bucket was recorded before the end of its day; it may go once the window has passed since then.
            var expiresAt = new DateTimeOffset(date, TimeSpan.Zero).AddDays(1) + _window;
            if (expiresAt > now)
            {
                continue;
            }

            string bucket = BucketPrefix + day;
            var keys = await _store.ListKeysAsync(bucket, cancellationToken).ConfigureAwait(false);
            foreach (var key in keys)
            {
                await _store.DeleteAsync(Namespace, key, cancellationToken).ConfigureAwait(false);
                await _store.DeleteAsync(bucket, key, cancellationToken).ConfigureAwait(false);
                removed++;
            }

            await _store.DeleteAsync(DaysNamespace, day, cancellationToken).ConfigureAwait(false);
            if (string.Equals(Volatile.Read(ref _registeredDay), day, StringComparison.Ordinal))
            {
                Volatile.Write(ref _registeredDay, null);
            }
        }

        return removed;
    }

    /// <summary>Keys are at most 255 characters without control characters (the state store's rule); longer or odd ids are hashed.</summary>
    private static string Bound(string key)
    {
        bool ok = key.Length <= 200;
        if (ok)
        {
            foreach (char c in key)
            {
                if (char.IsControl(c))
                {
                    ok = false;
                    break;
                }
            }
        }

        return ok ? key : "h/" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
    }
}
