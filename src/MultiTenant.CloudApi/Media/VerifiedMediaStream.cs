using System.Security.Cryptography;

namespace MultiTenant.CloudApi.Media;

/// <summary>
/// The body of a media download, read-only and forward-only: it hashes and counts what passes through and, at the end, checks the
/// length and SHA-256 Graph announced; a mismatch (or more bytes than announced) throws <see cref="MediaRejectedException"/>
/// (<see cref="MediaRejectionReason.IntegrityMismatch"/>) from the read that would have completed the file. Owns the response.
/// </summary>
internal sealed class VerifiedMediaStream : Stream
{
    private readonly HttpResponseMessage _response;
    private readonly Stream _inner;
    private readonly long? _expectedLength;
    private readonly byte[]? _expectedHash;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _read;
    private bool _verified;

    public VerifiedMediaStream(HttpResponseMessage response, Stream inner, long? expectedLength, byte[]? expectedHash)
    {
        _response = response;
        _inner = inner;
        _expectedLength = expectedLength;
        _expectedHash = expectedHash;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => _expectedLength ?? throw new NotSupportedException();

    public override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer) => Account(buffer, _inner.Read(buffer));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Account(buffer.Span, read);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            _response.Dispose();
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }

    private int Account(ReadOnlySpan<byte> buffer, int read)
    {
        if (read > 0)
        {
            _read += read;
            _hash.AppendData(buffer[..read]);
            if (_read > (_expectedLength ?? MediaLimits.MaxFileSize))
            {
                throw Mismatch("is longer than the " + (_expectedLength ?? MediaLimits.MaxFileSize) + " bytes announced");
            }

            return read;
        }

        if (!_verified && buffer.Length > 0)
        {
            _verified = true;
            if (_expectedLength is { } expected && _read != expected)
            {
                throw Mismatch($"has {_read} bytes, not the {expected} announced");
            }

            if (_expectedHash is not null && !CryptographicOperations.FixedTimeEquals(_hash.GetHashAndReset(), _expectedHash))
            {
                throw Mismatch("does not match the SHA-256 Graph announced");
            }
        }

        return read;
    }

    private static MediaRejectedException Mismatch(string what) =>
        new(MediaRejectionReason.IntegrityMismatch, "The downloaded media " + what + ".");

    /// <summary>Graph's <c>sha256</c>: hex (as documented) or base64; <see langword="null"/> when absent or unreadable.</summary>
    public static byte[]? ParseHash(string? sha256)
    {
        if (string.IsNullOrEmpty(sha256))
        {
            return null;
        }

        try
        {
            byte[] bytes = sha256.Length == 64 ? Convert.FromHexString(sha256) : Convert.FromBase64String(sha256);
            return bytes.Length == 32 ? bytes : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
