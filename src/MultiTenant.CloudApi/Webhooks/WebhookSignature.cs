using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace MultiTenant.CloudApi;

/// <summary>
/// Meta's webhook signature: the <c>X-Hub-Signature-256</c> header, <c>sha256=</c> followed by the lowercase hex HMAC-SHA256 of the
/// raw request body keyed with the app secret.
/// </summary>
public static class WebhookSignature
{
    /// <summary>The header that carries the signature: <c>X-Hub-Signature-256</c>.</summary>
    public const string HeaderName = "X-Hub-Signature-256";

    private const string Prefix = "sha256=";
    private const int HashSize = 32;

    /// <summary>Computes the header value for <paramref name="body"/> (for tests and tools that replay deliveries).</summary>
    public static string Compute(string appSecret, ReadOnlySpan<byte> body)
    {
        ArgumentException.ThrowIfNullOrEmpty(appSecret);
        Span<byte> hash = stackalloc byte[HashSize];
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(appSecret), body, hash);
        return Prefix + Convert.ToHexStringLower(hash);
    }

    /// <summary>
    /// Checks <paramref name="header"/> against the body, comparing in constant time. Returns <see langword="null"/> when it matches,
    /// otherwise why not (safe to log: never the expected value).
    /// </summary>
    public static string? Verify(ReadOnlySpan<byte> appSecret, ReadOnlySpan<byte> body, string? header)
    {
        if (string.IsNullOrEmpty(header))
        {
            return "the " + HeaderName + " header is missing";
        }

        var value = header.AsSpan().Trim();
        if (value.Length != Prefix.Length + (2 * HashSize) || !value.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            return "the " + HeaderName + " header is not 'sha256=' and 64 hex digits";
        }

        Span<byte> claimed = stackalloc byte[HashSize];
        if (Convert.FromHexString(value[Prefix.Length..], claimed, out _, out int written) != OperationStatus.Done || written != HashSize)
        {
            return "the " + HeaderName + " header is not 'sha256=' and 64 hex digits";
        }

        Span<byte> actual = stackalloc byte[HashSize];
        HMACSHA256.HashData(appSecret, body, actual);
        return CryptographicOperations.FixedTimeEquals(actual, claimed) ? null : "the signature does not match the body";
    }
}
