using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace MultiTenant.Webhooks;

/// <summary>
/// The signature of an outbound webhook delivery, header <see cref="HeaderName"/>:
/// <c>t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of "&lt;t&gt;.&lt;body&gt;" keyed with the subscription's secret (UTF-8)&gt;</c>.
/// The timestamp is signed too, so a receiver that refuses old timestamps (<see cref="Verify"/>'s tolerance) is safe from replays.
/// </summary>
public static class WebhookSignature
{
    /// <summary>The signature header: <c>X-MultiTenant-Signature</c>.</summary>
    public const string HeaderName = "X-MultiTenant-Signature";

    /// <summary>The event id header, for de-duplication by the receiver: <c>X-MultiTenant-Event-Id</c>.</summary>
    public const string EventIdHeaderName = "X-MultiTenant-Event-Id";

    /// <summary>The header value for <paramref name="body"/> sent at <paramref name="timestamp"/>.</summary>
    public static string Compute(ReadOnlySpan<byte> secret, DateTimeOffset timestamp, ReadOnlySpan<byte> body)
    {
        string t = timestamp.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return "t=" + t + ",v1=" + Convert.ToHexStringLower(Mac(secret, t, body));
    }

    /// <summary>
    /// Whether <paramref name="header"/> is a valid signature of <paramref name="body"/> with <paramref name="secret"/>, made no more
    /// than <paramref name="tolerance"/> away from <paramref name="now"/>. Compares in constant time.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> secret, string? header, ReadOnlySpan<byte> body, DateTimeOffset now, TimeSpan tolerance)
    {
        if (header is null)
        {
            return false;
        }

        string? t = null;
        string? v1 = null;
        foreach (string part in header.Split(','))
        {
            if (part.StartsWith("t=", StringComparison.Ordinal))
            {
                t = part[2..];
            }
            else if (part.StartsWith("v1=", StringComparison.Ordinal))
            {
                v1 = part[3..];
            }
        }

        if (t is null || v1 is null || v1.Length != 64 || !long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds)
            || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return false;
        }

        if ((now - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > tolerance)
        {
            return false;
        }

        byte[] expected = Mac(secret, t, body);
        byte[] given;
        try
        {
            given = Convert.FromHexString(v1);
        }
        catch (FormatException)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    private static byte[] Mac(ReadOnlySpan<byte> secret, string t, ReadOnlySpan<byte> body)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret);
        hmac.AppendData(Encoding.ASCII.GetBytes(t + "."));
        hmac.AppendData(body);
        return hmac.GetHashAndReset();
    }
}
