using System.Buffers;
using System.Net;
using MultiTenant.Clients;

namespace MultiTenant.CloudApi.Media;

/// <summary>
/// The <c>file</c> part of an upload: streams <paramref name="source"/> (after <paramref name="prefix"/>, bytes already read from it; <paramref name="totalLength"/> counts both)
/// in 80 KB chunks, never more than <paramref name="max"/> bytes; a longer source aborts the request with
/// <see cref="MediaRejectedException"/>. The length is announced when known, so Graph gets a Content-Length.
/// </summary>
internal sealed class MediaUploadContent(Stream source, ReadOnlyMemory<byte> prefix, long? totalLength, long max, MediaKind kind) : HttpContent
{
    private const int BufferSize = 81920;

    /// <summary>How many bytes were sent.</summary>
    public long BytesSent { get; private set; }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        long sent = prefix.Length;
        if (!prefix.IsEmpty)
        {
            await stream.WriteAsync(prefix, cancellationToken).ConfigureAwait(false);
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                sent += read;
                if (sent > max)
                {
                    throw MediaLimits.TooLarge(max, kind);
                }

                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            BytesSent = sent;
        }

        if (sent == 0)
        {
            throw new MediaRejectedException(MediaRejectionReason.Empty, "The media file is empty.");
        }
    }

    /// <summary>The total length (prefix included), when the caller knew it.</summary>
    protected override bool TryComputeLength(out long length)
    {
        length = totalLength ?? 0;
        return totalLength.HasValue;
    }
}
