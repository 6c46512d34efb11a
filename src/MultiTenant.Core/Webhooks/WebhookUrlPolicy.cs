using System.Net;
using System.Net.Sockets;

namespace MultiTenant.Webhooks;

/// <summary>
/// Server-side request forgery checks of webhook targets: only absolute <c>http</c>/<c>https</c> URLs without user information, and
/// no target on a loopback, private, shared (CGNAT), link-local, multicast, reserved or unspecified address, unless private targets are
/// explicitly allowed (<see cref="WebhookDeliveryOptions.AllowPrivateTargets"/>, for tests and closed networks). A URL is checked when
/// a subscription is stored (<see cref="Validate"/>) and every address its host resolves to is checked again at each delivery, on the
/// connection itself (<see cref="ResolveAsync"/>), so a DNS answer that changes after the check cannot reach an internal address.
/// </summary>
public static class WebhookUrlPolicy
{
    /// <summary>
    /// What is wrong with <paramref name="url"/> as a webhook target, or <see langword="null"/> when it is acceptable. A host name is
    /// not resolved here (see <see cref="ResolveAsync"/>); an IP literal and the <c>localhost</c> names are judged at once.
    /// </summary>
    /// <param name="url">The URL.</param>
    /// <param name="allowPrivateTargets">Whether non-public targets are allowed.</param>
    public static string? Validate(Uri? url, bool allowPrivateTargets)
    {
        if (url is null || !url.IsAbsoluteUri)
        {
            return "The webhook URL must be absolute, such as 'https://example.com/hooks/whatsapp'.";
        }

        if (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)
        {
            return "The webhook URL must use http or https.";
        }

        if (url.OriginalString.Length > WebhookSubscriptions.MaxUrlLength)
        {
            return $"The webhook URL must be at most {WebhookSubscriptions.MaxUrlLength} characters.";
        }

        if (!string.IsNullOrEmpty(url.UserInfo))
        {
            return "The webhook URL must not carry a user name or password.";
        }

        if (string.IsNullOrEmpty(url.IdnHost))
        {
            return "The webhook URL has no host.";
        }

        if (allowPrivateTargets)
        {
            return null;
        }

        string host = url.IdnHost.TrimEnd('.');
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return "The webhook URL must not point at this host (localhost).";
        }

        if (IPAddress.TryParse(url.HostNameType == UriHostNameType.IPv6 ? url.DnsSafeHost : host, out var address) && !IsPublic(address))
        {
            return $"The webhook URL must not point at a loopback, private, link-local, multicast or unspecified address ({address}).";
        }

        return null;
    }

    /// <summary>
    /// Whether <paramref name="address"/> is a public unicast address: not loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
    /// shared (100.64/10), link-local (169.254/16, fe80::/10), multicast, unspecified, reserved (0/8, 240/4, benchmarking 198.18/15,
    /// 192.0.0/24, site-local fec0::/10), judged on the embedded IPv4 address of IPv4-mapped and NAT64 (64:ff9b::/96) addresses.
    /// </summary>
    public static bool IsPublic(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            return IsPublic(address.MapToIPv4());
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> b = stackalloc byte[4];
            address.TryWriteBytes(b, out _);
            return !(b[0] is 0 or 10 or 127 or >= 224
                || (b[0] == 100 && b[1] is >= 64 and <= 127)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 172 && b[1] is >= 16 and <= 31)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 192 && b[1] == 0 && b[2] == 0)
                || (b[0] == 198 && b[1] is 18 or 19));
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        Span<byte> v6 = stackalloc byte[16];
        address.TryWriteBytes(v6, out _);
        if (v6[..12].SequenceEqual(Nat64Prefix))
        {
            return IsPublic(new IPAddress(v6[12..]));
        }

        return !(address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.IPv6Loopback)
            || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
            || (v6[0] & 0xFE) == 0xFC // unique local fc00::/7
            || v6[..15].IndexOfAnyExcept((byte)0) < 0); // ::/120, the IPv4-compatible and unspecified block
    }

    private static ReadOnlySpan<byte> Nat64Prefix => [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>
    /// Resolves <paramref name="host"/> and returns its addresses when every one of them is acceptable (all are checked: a name with one
    /// private address among public ones is refused, as a connection may use any of them).
    /// </summary>
    /// <param name="host">The host name or IP literal of the target.</param>
    /// <param name="allowPrivateTargets">Whether non-public targets are allowed.</param>
    /// <param name="resolve">Resolves a name; default <see cref="Dns.GetHostAddressesAsync(string, CancellationToken)"/>.</param>
    /// <param name="cancellationToken">Cancels the resolution.</param>
    /// <exception cref="WebhookTargetRefusedException">The name resolves to no address or to a refused one.</exception>
    /// <exception cref="SocketException">The name could not be resolved.</exception>
    public static async ValueTask<IPAddress[]> ResolveAsync(
        string host, bool allowPrivateTargets, Func<string, CancellationToken, Task<IPAddress[]>>? resolve = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        var addresses = IPAddress.TryParse(host, out var literal)
            ? [literal]
            : await (resolve ?? Dns.GetHostAddressesAsync)(host, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0)
        {
            throw new WebhookTargetRefusedException($"The webhook host '{host}' resolves to no address.");
        }

        if (!allowPrivateTargets)
        {
            foreach (var address in addresses)
            {
                if (!IsPublic(address))
                {
                    throw new WebhookTargetRefusedException(
                        $"The webhook host '{host}' resolves to a loopback, private, link-local, multicast or unspecified address ({address}).");
                }
            }
        }

        return addresses;
    }
}

/// <summary>A webhook target was refused by <see cref="WebhookUrlPolicy"/> (server-side request forgery protection).</summary>
public sealed class WebhookTargetRefusedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public WebhookTargetRefusedException()
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/> (safe to show: it names the host and address, nothing secret).</summary>
    public WebhookTargetRefusedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/> and its cause.</summary>
    public WebhookTargetRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
