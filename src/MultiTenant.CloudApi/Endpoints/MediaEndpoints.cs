using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;
using MultiTenant.CloudApi.Media;

namespace MultiTenant.CloudApi.Endpoints;

/// <summary>
/// <c>POST {prefix}/{business_id}/media</c> and <c>GET {prefix}/{business_id}/media/{media_id}</c>: the bytes stream from the caller
/// to Graph and from Graph to the caller (or the media store) in 80 KB chunks; nothing holds a whole file. Limits are checked from the
/// declared type and length before any Graph call; a body without a length is counted while it streams.
/// </summary>
internal static class MediaEndpoints
{
    /// <summary>What a multipart body may carry beyond the file: boundaries, part headers and the small form fields.</summary>
    public const long MultipartAllowance = 64 * 1024;

    private const int MaxFieldLength = 256;
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(30);

    public static async Task UploadAsync(HttpContext context)
    {
        if (await GetCredentialsAsync(context) is not { } found)
        {
            return;
        }

        // Kestrel's default body limit (30 MB) is below the largest document Meta accepts (100 MB).
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = MediaLimits.MaxFileSize + MultipartAllowance;
        }

        var media = context.RequestServices.GetRequiredService<CloudApiMedia>();
        var request = context.Request;
        string id;
        try
        {
            if (MediaTypeHeaderValue.TryParse(request.ContentType, out var type) && type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            {
                string? uploaded = await UploadMultipartAsync(context, media, found.Credentials, HeaderUtilities.RemoveQuotes(type.Boundary).Value).ConfigureAwait(false);
                if (uploaded is null)
                {
                    await ProblemAsync(context, StatusCodes.Status400BadRequest, "The multipart body has no 'file' part (send it as Meta's upload does: -F 'file=@photo.jpg;type=image/jpeg').").ConfigureAwait(false);
                    return;
                }

                id = uploaded;
            }
            else
            {
                var limits = CloudApiMedia.Check(request.ContentType, request.ContentLength);
                string? fileName = request.Query["filename"].FirstOrDefault() ?? FileNameOf(request.Headers.ContentDisposition);
                id = await media.UploadAsync(found.Credentials, request.Body, limits, fileName, context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (Describe(ex) is { } problem)
        {
            await ProblemAsync(context, problem.Status, problem.Detail, problem.RetryAfter).ConfigureAwait(false);
            return;
        }

        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsJsonAsync(new MediaUploadedResponse { Id = id }, CloudApiJsonContext.Default.MediaUploadedResponse, contentType: null, context.RequestAborted).ConfigureAwait(false);
    }

    public static async Task DownloadAsync(HttpContext context)
    {
        string mediaId = context.Request.RouteValues["media_id"] as string ?? string.Empty;
        if (MultiTenant.Media.MediaNames.Validate(mediaId) is { } invalid)
        {
            await ProblemAsync(context, StatusCodes.Status400BadRequest, "Invalid media_id: " + invalid).ConfigureAwait(false);
            return;
        }

        if (await GetCredentialsAsync(context) is not { } found)
        {
            return;
        }

        var media = context.RequestServices.GetRequiredService<CloudApiMedia>();
        bool store = string.Equals(context.Request.Query["store"], "true", StringComparison.OrdinalIgnoreCase);
        CloudApiMediaDownload? download = null;
        try
        {
            if (store)
            {
                var stored = await media.DownloadToStoreAsync(found.Tenant, found.Credentials, mediaId, context.RequestAborted).ConfigureAwait(false);
                await context.Response.WriteAsJsonAsync(
                    new MediaStoredResponse { Id = mediaId, Name = stored.Name, MimeType = stored.ContentType, FileSize = stored.Length, Sha256 = stored.Sha256 },
                    CloudApiJsonContext.Default.MediaStoredResponse,
                    contentType: null,
                    context.RequestAborted).ConfigureAwait(false);
                return;
            }

            download = await media.DownloadAsync(found.Credentials, mediaId, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (Describe(ex) is { } problem)
        {
            await ProblemAsync(context, problem.Status, problem.Detail, problem.RetryAfter).ConfigureAwait(false);
            return;
        }

        await using (download.ConfigureAwait(false))
        {
            var response = context.Response;
            response.ContentType = download.MimeType;
            response.ContentLength = download.Length;
            response.Headers.CacheControl = "no-store";
            response.Headers.XContentTypeOptions = "nosniff";
            response.Headers.ContentDisposition = "attachment; filename=\"" + mediaId + "\"";
            try
            {
                await CopyHoldingLastChunkAsync(download.Content, response.Body, context.RequestAborted).ConfigureAwait(false);
            }
            catch (MediaRejectedException)
            {
                // The bytes did not match what Graph announced: the last chunk was held back, so cutting the response leaves the caller
                // short of the Content-Length and its read fails.
                context.Abort();
            }
        }
    }

    /// <summary>
    /// Copies in 80 KB chunks, writing each chunk only once the next read returned: the read that reaches the end is the one that
    /// checks length and SHA-256 (<see cref="VerifiedMediaStream"/>), so a mismatch is found while the last chunk is still unsent.
    /// </summary>
    private static async Task CopyHoldingLastChunkAsync(Stream source, Stream destination, CancellationToken cancellationToken)
    {
        byte[] held = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
        byte[] next = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            int heldLength = await source.ReadAsync(held.AsMemory(0, 81920), cancellationToken).ConfigureAwait(false);
            while (heldLength > 0)
            {
                int nextLength = await source.ReadAsync(next.AsMemory(0, 81920), cancellationToken).ConfigureAwait(false);
                await destination.WriteAsync(held.AsMemory(0, heldLength), cancellationToken).ConfigureAwait(false);
                (held, next, heldLength) = (next, held, nextLength);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(held);
            System.Buffers.ArrayPool<byte>.Shared.Return(next);
        }
    }

    /// <summary>Streams the <c>file</c> part to Graph; reads a <c>type</c> field before it (Meta's form), skips other fields.</summary>
    private static async Task<string?> UploadMultipartAsync(HttpContext context, CloudApiMedia media, CloudApiCredentials credentials, string? boundary)
    {
        if (string.IsNullOrEmpty(boundary))
        {
            throw new InvalidDataException("The multipart content type has no boundary.");
        }

        var reader = new MultipartReader(boundary, context.Request.Body) { HeadersLengthLimit = 16 * 1024 };
        string? typeField = null;
        MultipartSection? section;
        while ((section = await reader.ReadNextSectionAsync(context.RequestAborted).ConfigureAwait(false)) is not null)
        {
            if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition))
            {
                continue;
            }

            string? name = HeaderUtilities.RemoveQuotes(disposition.Name).Value;
            if (string.Equals(name, "file", StringComparison.Ordinal))
            {
                var limits = CloudApiMedia.Check(section.ContentType ?? typeField, null);
                long? declared = context.Request.ContentLength;
                if (declared - MultipartAllowance > limits.Max)
                {
                    throw MediaLimits.TooLarge(limits.Max, limits.Kind);
                }

                string? fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
                return await media.UploadAsync(credentials, section.Body, limits, fileName, context.RequestAborted).ConfigureAwait(false);
            }

            using var field = new StreamReader(section.Body);
            char[] buffer = new char[MaxFieldLength + 1];
            int length = await field.ReadBlockAsync(buffer, context.RequestAborted).ConfigureAwait(false);
            if (string.Equals(name, "type", StringComparison.Ordinal) && length <= MaxFieldLength)
            {
                typeField = new string(buffer, 0, length).Trim();
            }

            await section.Body.CopyToAsync(Stream.Null, context.RequestAborted).ConfigureAwait(false);
        }

        return null;
    }

    private static async Task<(TenantId Tenant, CloudApiCredentials Credentials)?> GetCredentialsAsync(HttpContext context)
    {
        string? raw = context.Request.RouteValues["business_id"] as string;
        if (!TenantId.TryParse(raw, out var tenant))
        {
            await ProblemAsync(context, StatusCodes.Status400BadRequest, "Invalid business_id: " + (TenantId.Validate(raw) ?? "it is not valid.")).ConfigureAwait(false);
            return null;
        }

        var credentials = await context.RequestServices.GetRequiredService<ICloudApiCredentialStore>().GetAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        if (credentials is null)
        {
            await ProblemAsync(context, StatusCodes.Status404NotFound, $"Tenant {tenant.Value} has no Cloud API credentials.").ConfigureAwait(false);
            return null;
        }

        return (tenant, credentials);
    }

    /// <summary>The problem an expected failure answers; <see langword="null"/> for a bug (left to the host's error handling).</summary>
    private static (int Status, string Detail, TimeSpan? RetryAfter)? Describe(Exception exception) => exception switch
    {
        MediaRejectedException { Reason: MediaRejectionReason.UnsupportedType } e => (StatusCodes.Status415UnsupportedMediaType, e.Message, null),
        MediaRejectedException { Reason: MediaRejectionReason.TooLarge } e => (StatusCodes.Status413PayloadTooLarge, e.Message, null),
        MediaRejectedException { Reason: MediaRejectionReason.Empty } e => (StatusCodes.Status400BadRequest, e.Message, null),
        MediaRejectedException e => (StatusCodes.Status502BadGateway, e.Message, null),
        CloudApiException { GraphErrorCode: 100 } e => (StatusCodes.Status404NotFound, "Graph has no such media for this tenant's number. " + e.Message, null),
        CloudApiException { IsTransient: true } e => (StatusCodes.Status503ServiceUnavailable, e.Message, RetryAfter),
        CloudApiException e => (StatusCodes.Status502BadGateway, e.Message, null),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => (StatusCodes.Status413PayloadTooLarge, $"The request body must be at most {MediaLimits.Describe(MediaLimits.MaxFileSize)} plus {MultipartAllowance} bytes of multipart framing.", null),
        BadHttpRequestException or InvalidDataException or IOException => (StatusCodes.Status400BadRequest, "The request body could not be read as a file or a multipart/form-data body.", null),
        _ => null,
    };

    private static string? FileNameOf(string? contentDisposition) =>
        ContentDispositionHeaderValue.TryParse(contentDisposition, out var value)
            ? HeaderUtilities.RemoveQuotes(value.FileNameStar.HasValue ? value.FileNameStar : value.FileName).Value
            : null;

    private static Task ProblemAsync(HttpContext context, int statusCode, string detail, TimeSpan? retryAfter = null)
    {
        if (retryAfter is { } wait)
        {
            context.Response.Headers.RetryAfter = ((int)wait.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }

        return TypedResults.Problem(detail: detail, statusCode: statusCode, title: ReasonPhrases.GetReasonPhrase(statusCode)).ExecuteAsync(context);
    }
}

/// <summary>The answer to an upload: Graph's media id.</summary>
internal sealed class MediaUploadedResponse
{
    [JsonPropertyName("id")]
    public required string Id { get; init; }
}

/// <summary>The answer to a download into the media store.</summary>
internal sealed class MediaStoredResponse
{
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("mime_type")]
    public string? MimeType { get; init; }

    [JsonPropertyName("file_size")]
    public long FileSize { get; init; }

    [JsonPropertyName("sha256")]
    public required string Sha256 { get; init; }
}
