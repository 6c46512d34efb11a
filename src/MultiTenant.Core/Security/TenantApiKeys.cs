using System.Security.Cryptography;
using System.Text;

namespace MultiTenant.Security;

/// <summary>
/// Generates and hashes API keys: <c>wt_</c> followed by 32 random bytes in base64url (256 bits of entropy, so a single SHA-256 is
/// enough: a stolen hash cannot be turned back into a key by guessing).
/// </summary>
public static class TenantApiKeys
{
    /// <summary>The readable prefix of every generated key: <c>wt_</c>.</summary>
    public const string Prefix = "wt_";

    /// <summary>The length of a hash: 32 bytes.</summary>
    public const int HashLength = 32;

    /// <summary>The longest key accepted for hashing: 512 characters (longer input is refused before any work).</summary>
    public const int MaxKeyLength = 512;

    /// <summary>A new key: <see cref="Prefix"/> + 32 random bytes in base64url (no padding).</summary>
    public static string Generate()
    {
        Span<byte> bytes = stackalloc byte[32];
        RandomNumberGenerator.Fill(bytes);
        return Prefix + Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>The SHA-256 hash of <paramref name="key"/>'s UTF-8 bytes.</summary>
    /// <exception cref="ArgumentException"><paramref name="key"/> is empty or longer than <see cref="MaxKeyLength"/>.</exception>
    public static byte[] Hash(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (key.Length > MaxKeyLength)
        {
            throw new ArgumentException($"An API key has at most {MaxKeyLength} characters.", nameof(key));
        }

        return SHA256.HashData(Encoding.UTF8.GetBytes(key));
    }

    /// <summary>Whether two hashes are equal, compared in constant time.</summary>
    public static bool HashesEqual(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right) =>
        CryptographicOperations.FixedTimeEquals(left, right);

    /// <summary>Checks the arguments of <see cref="ITenantApiKeyStore.CreateAsync"/> (for implementations of the store).</summary>
    /// <exception cref="ArgumentException"><paramref name="tenant"/> is default or <paramref name="hash"/> is not 32 bytes.</exception>
    public static void ThrowIfInvalid(TenantId tenant, ReadOnlyMemory<byte> hash)
    {
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) names no tenant.", nameof(tenant));
        }

        ThrowIfInvalidHash(hash);
    }

    /// <summary>Checks that <paramref name="hash"/> is <see cref="HashLength"/> bytes (for implementations of the store).</summary>
    /// <exception cref="ArgumentException">It is not.</exception>
    public static void ThrowIfInvalidHash(ReadOnlyMemory<byte> hash)
    {
        if (hash.Length != HashLength)
        {
            throw new ArgumentException($"A key hash is {HashLength} bytes (SHA-256).", nameof(hash));
        }
    }
}
