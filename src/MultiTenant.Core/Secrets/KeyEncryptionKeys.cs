using System.Security.Cryptography;
using System.Text;

namespace MultiTenant.Secrets;

/// <summary>
/// The key-encryption keys (KEKs) of the key ring: one that encrypts (the current one) and any that only decrypt (previous ones), each
/// known by an id derived from the key (a keyed hash, so the id discloses nothing about the key). Holds copies of the key bytes.
/// </summary>
internal sealed class KeyEncryptionKeys
{
    public const int KeySize = 32;
    private static readonly byte[] IdLabel = Encoding.ASCII.GetBytes("MultiTenant.Secrets.KeyEncryptionKey.Id.v1");

    private readonly Dictionary<string, byte[]> _byId;

    private KeyEncryptionKeys(byte[] current, IEnumerable<byte[]> previous, bool ephemeral)
    {
        Ephemeral = ephemeral;
        CurrentId = IdOf(current);
        Current = current;
        _byId = new Dictionary<string, byte[]>(StringComparer.Ordinal) { [CurrentId] = current };
        foreach (byte[] key in previous)
        {
            _byId.TryAdd(IdOf(key), key);
        }
    }

    /// <summary>Whether the current KEK was generated for this process (no KEK configured, key ring in memory).</summary>
    public bool Ephemeral { get; }

    public string CurrentId { get; }

    public byte[] Current { get; }

    /// <summary>The KEKs from the options; a random one for this process when none is configured.</summary>
    public static KeyEncryptionKeys From(TenantSecretsOptions options)
    {
        var previous = new List<byte[]>(options.PreviousKeyEncryptionKeys.Count);
        foreach (string key in options.PreviousKeyEncryptionKeys)
        {
            previous.Add(Decode(key));
        }

        return !string.IsNullOrWhiteSpace(options.KeyEncryptionKey)
            ? new KeyEncryptionKeys(Decode(options.KeyEncryptionKey), previous, ephemeral: false)
            : new KeyEncryptionKeys(RandomNumberGenerator.GetBytes(KeySize), previous, ephemeral: true);
    }

    public bool TryGet(string id, out byte[] key) => _byId.TryGetValue(id, out key!);

    /// <summary>Why <paramref name="value"/> is not a KEK (a sentence fragment that never repeats the value), or <see langword="null"/>.</summary>
    public static string? Describe(string value)
    {
        Span<byte> buffer = stackalloc byte[KeySize + 3];
        if (!Convert.TryFromBase64String(value.Trim(), buffer, out int written) || written != KeySize)
        {
            return $"must be base64 of exactly {KeySize} random bytes (for example the output of 'openssl rand -base64 32').";
        }

        return null;
    }

    private static byte[] Decode(string value) => Convert.FromBase64String(value.Trim());

    private static string IdOf(byte[] key)
    {
        Span<byte> hash = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, IdLabel, hash);
        return Convert.ToHexStringLower(hash[..8]);
    }
}
