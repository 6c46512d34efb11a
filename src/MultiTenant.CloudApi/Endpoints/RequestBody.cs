using System.Buffers;
using Microsoft.AspNetCore.Http;
using MultiTenant.AspNetCore.Api;

namespace MultiTenant.CloudApi.Endpoints;

/// <summary>Reads a whole request body into a pooled buffer, refusing more than a limit while reading (whatever Content-Length says).</summary>
internal sealed class RequestBody : IDisposable
{
    private byte[]? _buffer;

    private RequestBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; }

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Length);

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    /// <summary>Reads the body; a null body and TooLarge when it exceeds <paramref name="limit"/>.</summary>
    /// <remarks>The tenant API's bounded reader does the reading, so both packages enforce limits the same way.</remarks>
    /// <exception cref="BadHttpRequestException">The body could not be read (a truncated or malformed stream).</exception>
    public static async Task<(RequestBody? Body, bool TooLarge)> ReadAsync(HttpContext context, int limit)
    {
        var (error, buffer, length) = await JsonRequestBody.ReadAsync(context, limit).ConfigureAwait(false);
        if (error is { } refused)
        {
            if (refused.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return (null, true);
            }

            throw new BadHttpRequestException(refused.Detail, refused.StatusCode);
        }

        return (new RequestBody(buffer!, length), false);
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
