using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace MultiTenant.AspNetCore.Http;

/// <summary>
/// A whole request body read into a pooled buffer under a size limit that is enforced while reading, whatever <c>Content-Length</c>
/// says and whatever the server's own limit is. Every endpoint of the MultiTenant packages that reads a body (the tenant API, the Cloud
/// API's credentials and webhook) reads it with this type, so limits are enforced the same way everywhere. Dispose it to return the
/// buffer to the pool.
/// </summary>
/// <remarks>
/// Why not the framework's body binding: it reads a body only as far as the deserializer needs, reports an oversized body as an
/// exception from deep inside the stream, and cannot hand the raw bytes to a signature check (the webhook verifies
/// <c>X-Hub-Signature-256</c> over the exact bytes before parsing anything).
/// </remarks>
public sealed class BoundedRequestBody : IDisposable
{
    private byte[]? _buffer;

    private BoundedRequestBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    /// <summary>The number of bytes of the body.</summary>
    public int Length { get; }

    /// <summary>The body's bytes. Valid until the body is disposed.</summary>
    /// <exception cref="ObjectDisposedException">The body was disposed.</exception>
    public ReadOnlySpan<byte> Span => (_buffer ?? throw new ObjectDisposedException(nameof(BoundedRequestBody))).AsSpan(0, Length);

    /// <summary>
    /// Reads the whole body of <paramref name="context"/>'s request, refusing more than <paramref name="limit"/> bytes: a declared
    /// <c>Content-Length</c> over the limit is refused before reading, and the read stops as soon as the limit is passed.
    /// </summary>
    /// <param name="context">The request's context.</param>
    /// <param name="limit">The largest accepted body, in bytes (at least 0).</param>
    /// <returns>The body; the caller disposes it.</returns>
    /// <exception cref="BadHttpRequestException">The body is larger than <paramref name="limit"/> (<see cref="BadHttpRequestException.StatusCode"/>
    /// 413) or could not be read, for example a truncated chunked body (400). The message is a readable detail without the input.</exception>
    /// <exception cref="OperationCanceledException">The client aborted the request.</exception>
    public static async ValueTask<BoundedRequestBody> ReadAsync(HttpContext context, int limit)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        var request = context.Request;
        if (request.ContentLength > limit)
        {
            throw TooLarge(limit);
        }

        // Let the server enforce the same limit where it can (Kestrel); the loop below enforces it in every case.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature
            && (sizeFeature.MaxRequestBodySize is null || sizeFeature.MaxRequestBodySize > limit + 1L))
        {
            sizeFeature.MaxRequestBodySize = limit + 1L;
        }

        int initial = request.ContentLength is { } declared ? (int)declared + 1 : Math.Min(limit + 1, 4096);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initial, 16));
        int length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > limit)
                    {
                        throw TooLarge(limit);
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(buffer.Length * 2L, limit + 1L));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int read = await request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > limit)
                {
                    throw TooLarge(limit);
                }
            }
        }
        catch (BadHttpRequestException ex)
        {
            // Ours above, the server's own limit, or a malformed (for example truncated chunked) body.
            ArrayPool<byte>.Shared.Return(buffer);
            throw ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? TooLarge(limit)
                : new BadHttpRequestException("The request body could not be read.", StatusCodes.Status400BadRequest);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        return new BoundedRequestBody(buffer, length);
    }

    /// <summary>Returns the buffer to the pool.</summary>
    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static BadHttpRequestException TooLarge(int limit) =>
        new($"The request body is larger than the limit of {limit} bytes.", StatusCodes.Status413PayloadTooLarge);
}
