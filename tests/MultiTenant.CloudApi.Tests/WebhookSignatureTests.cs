using System.Text;

namespace MultiTenant.CloudApi.Tests;

/// <summary>The X-Hub-Signature-256 check.</summary>
public sealed class WebhookSignatureTests
{
    // HMAC-SHA256 test vector: key "key", message "The quick brown fox jumps over the lazy dog".
    private const string Vector = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
    private static readonly byte[] Key = Encoding.UTF8.GetBytes("key");
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("The quick brown fox jumps over the lazy dog");

    [Fact]
    public void Compute_produces_sha256_and_the_lowercase_hex_hmac() =>
        Assert.Equal("sha256=" + Vector, WebhookSignature.Compute("key", Body));

    [Theory]
    [InlineData("sha256=" + Vector)]
    [InlineData("SHA256=F7BC83F430538424B13298E6AA6FB143EF4D59A14946175997479DBC2D1A3CD8")]
    public void Matching_signature_is_accepted(string header) => Assert.Null(WebhookSignature.Verify(Key, Body, header));

    [Theory]
    [InlineData(null, "missing")]
    [InlineData("", "missing")]
    [InlineData(Vector, "not 'sha256='")]
    [InlineData("sha1=" + Vector, "not 'sha256='")]
    [InlineData("sha256=" + "zz" + "bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8", "not 'sha256='")]
    [InlineData("sha256=00bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8", "does not match")]
    public void Other_signatures_are_refused_with_the_reason(string? header, string reason) =>
        Assert.Contains(reason, WebhookSignature.Verify(Key, Body, header), StringComparison.Ordinal);

    [Fact]
    public void Signature_of_another_body_does_not_match() =>
        Assert.NotNull(WebhookSignature.Verify(Key, Encoding.UTF8.GetBytes("The quick brown fox jumps over the lazy cat"), "sha256=" + Vector));
}
