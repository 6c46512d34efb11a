using System.Net;
using System.Text;
using MultiTenant.Webhooks;

namespace MultiTenant.Core.Tests.Webhooks;

public sealed class WebhookUrlPolicyTests
{
    [Theory]
    [InlineData("https://hooks.example.com/whatsapp")]
    [InlineData("http://hooks.example.com:8080/x?y=1")]
    [InlineData("https://93.184.216.34/hook")]
    [InlineData("https://[2606:2800:220:1:248:1893:25c8:1946]/hook")]
    public void Public_http_and_https_targets_are_accepted(string url) => Assert.Null(WebhookUrlPolicy.Validate(new Uri(url), allowPrivateTargets: false));

    [Theory]
    [InlineData("ftp://example.com/x")]
    [InlineData("file:///etc/passwd")]
    [InlineData("gopher://example.com/")]
    [InlineData("https://user:pass@example.com/")]
    public void Other_schemes_and_credentials_in_the_url_are_refused_even_when_private_targets_are_allowed(string url)
    {
        Assert.NotNull(WebhookUrlPolicy.Validate(new Uri(url), allowPrivateTargets: false));
        Assert.NotNull(WebhookUrlPolicy.Validate(new Uri(url), allowPrivateTargets: true));
    }

    [Theory]
    [InlineData("http://localhost/x")]
    [InlineData("http://LOCALHOST./x")]
    [InlineData("http://api.localhost/x")]
    [InlineData("http://127.0.0.1/x")]
    [InlineData("http://127.1.2.3:9000/x")]
    [InlineData("http://10.0.0.5/x")]
    [InlineData("http://172.16.0.1/x")]
    [InlineData("http://172.31.255.255/x")]
    [InlineData("http://192.168.1.1/x")]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://100.64.0.1/x")]
    [InlineData("http://0.0.0.0/x")]
    [InlineData("http://224.0.0.1/x")]
    [InlineData("http://255.255.255.255/x")]
    [InlineData("http://[::1]/x")]
    [InlineData("http://[::]/x")]
    [InlineData("http://[fe80::1]/x")]
    [InlineData("http://[fd00::1]/x")]
    [InlineData("http://[ff02::1]/x")]
    [InlineData("http://[::ffff:127.0.0.1]/x")]
    [InlineData("http://[::ffff:169.254.169.254]/x")]
    [InlineData("http://[64:ff9b::a00:1]/x")]
    [InlineData("http://2130706433/x")] // 127.0.0.1 as one decimal number
    [InlineData("http://0x7f.1/x")]
    public void Loopback_private_link_local_multicast_and_unspecified_targets_are_refused_unless_allowed(string url)
    {
        Assert.NotNull(WebhookUrlPolicy.Validate(new Uri(url), allowPrivateTargets: false));
        Assert.Null(WebhookUrlPolicy.Validate(new Uri(url), allowPrivateTargets: true));
    }

    [Theory]
    [InlineData("172.15.255.255", true)]
    [InlineData("172.32.0.0", true)]
    [InlineData("100.63.255.255", true)]
    [InlineData("100.128.0.0", true)]
    [InlineData("8.8.8.8", true)]
    [InlineData("2001:4860:4860::8888", true)]
    [InlineData("::ffff:8.8.8.8", true)]
    [InlineData("198.18.0.1", false)]
    [InlineData("192.0.0.8", false)]
    [InlineData("240.0.0.1", false)]
    [InlineData("fec0::1", false)]
    public void Address_classification_is_exact_at_the_range_edges(string address, bool isPublic) =>
        Assert.Equal(isPublic, WebhookUrlPolicy.IsPublic(IPAddress.Parse(address)));

    [Fact]
    public async Task Every_resolved_address_is_checked_so_one_private_address_among_public_ones_refuses_the_host()
    {
        Task<IPAddress[]> Rebinding(string host, CancellationToken _) =>
            Task.FromResult(new[] { IPAddress.Parse("93.184.216.34"), IPAddress.Parse("10.1.2.3") });
        Task<IPAddress[]> Public(string host, CancellationToken _) => Task.FromResult(new[] { IPAddress.Parse("93.184.216.34") });
        Task<IPAddress[]> Nothing(string host, CancellationToken _) => Task.FromResult(Array.Empty<IPAddress>());

        var refused = await Assert.ThrowsAsync<WebhookTargetRefusedException>(
            async () => await WebhookUrlPolicy.ResolveAsync("evil.example.com", allowPrivateTargets: false, Rebinding));
        Assert.Contains("10.1.2.3", refused.Message, StringComparison.Ordinal);
        Assert.Equal(2, (await WebhookUrlPolicy.ResolveAsync("evil.example.com", allowPrivateTargets: true, Rebinding)).Length);
        Assert.Single(await WebhookUrlPolicy.ResolveAsync("good.example.com", allowPrivateTargets: false, Public));
        await Assert.ThrowsAsync<WebhookTargetRefusedException>(
            async () => await WebhookUrlPolicy.ResolveAsync("empty.example.com", allowPrivateTargets: true, Nothing));
        await Assert.ThrowsAsync<WebhookTargetRefusedException>(
            async () => await WebhookUrlPolicy.ResolveAsync("127.0.0.1", allowPrivateTargets: false, Public));
    }

    [Fact]
    public void A_signature_verifies_for_its_body_secret_and_time_only()
    {
        byte[] secret = Encoding.UTF8.GetBytes("s3cret");
        byte[] body = Encoding.UTF8.GetBytes("""{"event_id":"e1"}""");
        var at = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        string header = WebhookSignature.Compute(secret, at, body);
        Assert.Matches("^t=1767323045,v1=[0-9a-f]{64}$", header);

        var tolerance = TimeSpan.FromMinutes(5);
        Assert.True(WebhookSignature.Verify(secret, header, body, at + TimeSpan.FromMinutes(4), tolerance));
        Assert.False(WebhookSignature.Verify(secret, header, body, at + TimeSpan.FromMinutes(6), tolerance));
        Assert.False(WebhookSignature.Verify("other"u8, header, body, at, tolerance));
        Assert.False(WebhookSignature.Verify(secret, header, Encoding.UTF8.GetBytes("""{"event_id":"e2"}"""), at, tolerance));
        Assert.False(WebhookSignature.Verify(secret, header.Replace("t=1767323045", "t=1767323046", StringComparison.Ordinal), body, at, tolerance));
        Assert.False(WebhookSignature.Verify(secret, null, body, at, tolerance));
        Assert.False(WebhookSignature.Verify(secret, "t=x,v1=zz", body, at, tolerance));
    }

    [Fact]
    public void The_signature_is_the_hex_HMAC_SHA256_of_timestamp_dot_body_so_any_language_can_check_it()
    {
        byte[] secret = Encoding.UTF8.GetBytes("s3cret");
        byte[] body = Encoding.UTF8.GetBytes("{}");
        string header = WebhookSignature.Compute(secret, DateTimeOffset.FromUnixTimeSeconds(1700000000), body);
        string expected = Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes("1700000000.{}")));
        Assert.Equal("t=1700000000,v1=" + expected, header);
    }
}
