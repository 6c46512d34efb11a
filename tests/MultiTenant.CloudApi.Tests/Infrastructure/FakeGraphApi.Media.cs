using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace MultiTenant.CloudApi.Tests.Infrastructure;

/// <summary>One part of a multipart upload the fake received: a field's text, or a file's length and SHA-256 (never its bytes).</summary>
public sealed record UploadPart(string Name, string? FileName, string? ContentType, string? Text, long Length, string Sha256);

/// <summary>A media upload the fake received.</summary>
public sealed record MediaUpload(string Path, string? Authorization, string? ContentType, long? ContentLength, IReadOnlyList<UploadPart> Parts, string MediaId);

/// <summary>
/// The fake's media routes. They stream: an upload's parts are read with <see cref="MultipartReader"/> and only counted and hashed,
/// a download is generated on the fly (<see cref="PatternStream"/>), so a 50 MB file costs the fake no 50 MB of memory.
/// <c>POST /{version}/{phone-number-id}/media</c> → <c>{"id"}</c>; <c>GET /{version}/{media-id}?phone_number_id=…</c> → Meta's media
/// node with a URL on this fake; <c>GET /download/{media-id}</c> with the token → the bytes.
/// </summary>
public sealed partial class FakeGraphApi
{
    private readonly List<MediaUpload> _uploads = [];
    private readonly Dictionary<string, ServedMedia> _media = new(StringComparer.Ordinal);
    private long _mediaIds = 1_000_000_000_000_000;

    /// <summary>The media uploads received, in order.</summary>
    public IReadOnlyList<MediaUpload> MediaUploads
    {
        get
        {
            lock (_gate)
            {
                return [.. _uploads];
            }
        }
    }

    /// <summary>
    /// Serves a generated file of <paramref name="length"/> bytes as media <paramref name="mediaId"/> of <paramref name="phoneNumberId"/>;
    /// returns its SHA-256 (hex). With <paramref name="announcedSha256"/> the media node announces that hash instead (a tampered file).
    /// </summary>
    public string AddMedia(string mediaId, string phoneNumberId, long length, string mimeType, int seed = 7, string? announcedSha256 = null)
    {
        string sha256;
        using (var content = new PatternStream(length, seed))
        {
            sha256 = Convert.ToHexStringLower(SHA256.HashData(content));
        }

        lock (_gate)
        {
            _media[mediaId] = new ServedMedia(phoneNumberId, length, mimeType, seed, announcedSha256 ?? sha256);
        }

        return sha256;
    }

    private async Task<bool> TryHandleMediaAsync(HttpContext context)
    {
        var request = context.Request;
        var segments = (request.Path.Value ?? string.Empty).Split('/', StringSplitOptions.RemoveEmptyEntries);
        string? token = request.Headers.Authorization.ToString() is { } auth && auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth[7..] : null;
        if (request.Method == "POST" && segments is [_, var phone, "media"])
        {
            await UploadAsync(context, phone, token);
            return true;
        }

        ServedMedia? served;
        if (request.Method == "GET" && segments is ["download", var file])
        {
            Record(context, string.Empty);
            if (!TryGetMedia(file, out served) || !Accepts(served!.PhoneNumberId, token))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return true;
            }

            context.Response.ContentType = served.MimeType;
            context.Response.ContentLength = served.Length;
            using var content = new PatternStream(served.Length, served.Seed);
            await content.CopyToAsync(context.Response.Body, context.RequestAborted);
            return true;
        }

        if (request.Method == "GET" && segments is [_, var id] && (TryGetMedia(id, out served) || request.Query.ContainsKey("phone_number_id")))
        {
            Record(context, string.Empty);
            if (served is null)
            {
                await FailAsync(context, new GraphFailure(100, HttpStatusCode.BadRequest, 33));
                return true;
            }

            if (!Accepts(served.PhoneNumberId, token) || request.Query["phone_number_id"] != served.PhoneNumberId)
            {
                await FailAsync(context, new GraphFailure(190, HttpStatusCode.Unauthorized, 463));
                return true;
            }

            context.Response.ContentType = "application/json; charset=UTF-8";
            await context.Response.WriteAsync(
                $$"""{"messaging_product":"whatsapp","url":"{{BaseUrl}}download/{{id}}","mime_type":"{{served.MimeType}}","sha256":"{{served.AnnouncedSha256}}","file_size":"{{served.Length.ToString(CultureInfo.InvariantCulture)}}","id":"{{id}}"}""");
            return true;
        }

        return false;
    }

    private async Task UploadAsync(HttpContext context, string phoneNumberId, string? token)
    {
        var request = context.Request;
        Record(context, "(multipart upload)");
        if (!Accepts(phoneNumberId, token))
        {
            await FailAsync(context, new GraphFailure(190, HttpStatusCode.Unauthorized, 463));
            return;
        }

        var parts = new List<UploadPart>();
        if (MediaTypeHeaderValue.TryParse(request.ContentType, out var type) && type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            var reader = new MultipartReader(HeaderUtilities.RemoveQuotes(type.Boundary).Value!, request.Body);
            MultipartSection? section;
            while ((section = await reader.ReadNextSectionAsync(context.RequestAborted)) is not null)
            {
                ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition);
                string name = HeaderUtilities.RemoveQuotes(disposition?.Name ?? default).Value ?? string.Empty;
                string? fileName = disposition is null ? null : HeaderUtilities.RemoveQuotes(disposition.FileName).Value;
                if (fileName is not null)
                {
                    var (length, sha256) = await CountAndHashAsync(section.Body, context.RequestAborted);
                    parts.Add(new UploadPart(name, fileName, section.ContentType, null, length, sha256));
                }
                else
                {
                    using var text = new StreamReader(section.Body);
                    string value = await text.ReadToEndAsync(context.RequestAborted);
                    parts.Add(new UploadPart(name, null, section.ContentType, value, value.Length, string.Empty));
                }
            }
        }

        string id;
        lock (_gate)
        {
            id = (++_mediaIds).ToString(CultureInfo.InvariantCulture);
            _uploads.Add(new MediaUpload(request.Path.Value!, request.Headers.Authorization, request.ContentType, request.ContentLength, parts, id));
        }

        context.Response.ContentType = "application/json; charset=UTF-8";
        await context.Response.WriteAsync("{\"id\":\"" + id + "\"}");
    }

    private static async Task<(long Length, string Sha256)> CountAndHashAsync(Stream body, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[81920];
        long length = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            length += read;
        }

        return (length, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    private bool TryGetMedia(string id, out ServedMedia? served)
    {
        lock (_gate)
        {
            return _media.TryGetValue(id, out served);
        }
    }

    private bool Accepts(string phoneNumberId, string? token)
    {
        lock (_gate)
        {
            return token is not null && !_revoked.Contains(token) && _tokens.TryGetValue(phoneNumberId, out var expected) && expected == token;
        }
    }

    private void Record(HttpContext context, string body)
    {
        var request = context.Request;
        lock (_gate)
        {
            _requests.Add(new GraphRequest(request.Method, request.Path.Value ?? string.Empty, request.QueryString.Value ?? string.Empty, request.Headers.Authorization, body));
        }
    }

    private static async Task FailAsync(HttpContext context, GraphFailure failure)
    {
        context.Response.ContentType = "application/json; charset=UTF-8";
        context.Response.StatusCode = (int)failure.Status;
        await context.Response.WriteAsync(ErrorBody(failure));
    }

    private sealed record ServedMedia(string PhoneNumberId, long Length, string MimeType, int Seed, string AnnouncedSha256);
}

/// <summary>A read-only stream of <c>length</c> deterministic bytes, generated as it is read (nothing is held).</summary>
public sealed class PatternStream(long length, int seed) : Stream
{
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int count = (int)Math.Min(buffer.Length, length - _position);
        for (int i = 0; i < count; i++)
        {
            long p = _position + i;
            buffer[i] = (byte)((p * 31) ^ (p >> 9) ^ seed);
        }

        _position += count;
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
