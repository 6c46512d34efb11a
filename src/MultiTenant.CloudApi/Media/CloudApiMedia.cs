using MultiTenant.Clients;
using MultiTenant.CloudApi.Graph;
using MultiTenant.Media;

namespace MultiTenant.CloudApi.Media;

/// <summary>The default <see cref="ICloudApiMedia"/>: limits checked first, then Graph with the stored credentials, streamed both ways.</summary>
internal sealed class CloudApiMedia(ICloudApiCredentialStore credentials, GraphApiClient graph, IMediaStore store) : ICloudApiMedia
{
    public async Task<string> UploadAsync(TenantId tenant, Stream content, string contentType, string? fileName = null, long? length = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var limits = Check(contentType, length ?? (content.CanSeek ? content.Length - content.Position : null));
        return await UploadAsync(await GetCredentialsAsync(tenant, cancellationToken).ConfigureAwait(false), content, limits, fileName, cancellationToken).ConfigureAwait(false);
    }

    public async Task<CloudApiMediaDownload> DownloadAsync(TenantId tenant, string mediaId, CancellationToken cancellationToken = default)
    {
        ThrowIfInvalidId(mediaId);
        return await DownloadAsync(await GetCredentialsAsync(tenant, cancellationToken).ConfigureAwait(false), mediaId, cancellationToken).ConfigureAwait(false);
    }

    public async Task<StoredMedia> DownloadToStoreAsync(TenantId tenant, string mediaId, CancellationToken cancellationToken = default)
    {
        ThrowIfInvalidId(mediaId);
        var stored = await GetCredentialsAsync(tenant, cancellationToken).ConfigureAwait(false);
        return await DownloadToStoreAsync(tenant, stored, mediaId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The kind, MIME type and size limit of an upload, checked before anything is read or sent.</summary>
    /// <exception cref="MediaRejectedException">The type is not supported, or the known length is 0 or over the limit.</exception>
    public static UploadLimits Check(string? contentType, long? length)
    {
        var (kind, max, mimeType) = MediaLimits.Resolve(contentType);
        MediaLimits.CheckLength(length, max, kind);
        return new UploadLimits(kind, max, mimeType, length);
    }

    /// <summary>Uploads with credentials the caller read (the endpoint), after <see cref="Check"/>.</summary>
    public async Task<string> UploadAsync(CloudApiCredentials stored, Stream content, UploadLimits limits, string? fileName, CancellationToken cancellationToken)
    {
        long max = limits.Max;
        ReadOnlyMemory<byte> prefix = default;
        if (limits.Kind == MediaKind.Sticker)
        {
            // A static sticker may have 100 KB, an animated one 500 KB: the WebP header says which.
            byte[] header = new byte[MediaLimits.WebpHeaderLength];
            int read = await content.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            prefix = header.AsMemory(0, read);
            max = MediaLimits.StickerLimit(header.AsSpan(0, read));
            MediaLimits.CheckLength(limits.Length, max, limits.Kind);
        }

        var file = new MediaUploadContent(content, prefix, limits.Length, max, limits.Kind);
        try
        {
            return await graph.UploadMediaAsync(stored, file, limits.MimeType, SafeFileName(fileName, limits.Kind), cancellationToken).ConfigureAwait(false);
        }
        catch (GraphApiException ex)
        {
            throw ex.Error.ToException(ex);
        }
    }

    /// <summary>Opens a download with credentials the caller read (the endpoint).</summary>
    public async Task<CloudApiMediaDownload> DownloadAsync(CloudApiCredentials stored, string mediaId, CancellationToken cancellationToken)
    {
        MediaInfoResponse info;
        HttpResponseMessage response;
        try
        {
            info = await graph.GetMediaInfoAsync(stored, mediaId, cancellationToken).ConfigureAwait(false);
            if (!Uri.TryCreate(info.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
            {
                throw new CloudApiException("Graph returned no usable download URL for the media.", null, 200, isTransient: true);
            }

            if (info.FileSize > MediaLimits.MaxFileSize)
            {
                throw new MediaRejectedException(MediaRejectionReason.TooLarge, $"The media is larger than any the Cloud API allows ({MediaLimits.Describe(MediaLimits.MaxFileSize)}).", MediaLimits.MaxFileSize);
            }

            response = await graph.OpenMediaAsync(stored, url, cancellationToken).ConfigureAwait(false);
        }
        catch (GraphApiException ex)
        {
            throw ex.Error.ToException(ex);
        }

        try
        {
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            long? length = info.FileSize ?? response.Content.Headers.ContentLength;
            string mimeType = info.MimeType ?? response.Content.Headers.ContentType?.ToString() ?? "application/octet-stream";
            var content = new VerifiedMediaStream(response, body, length, VerifiedMediaStream.ParseHash(info.Sha256));
            return new CloudApiMediaDownload(info.Id ?? mediaId, mimeType, length, info.Sha256, content);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>Downloads into the store with credentials the caller read (the endpoint).</summary>
    public async Task<StoredMedia> DownloadToStoreAsync(TenantId tenant, CloudApiCredentials stored, string mediaId, CancellationToken cancellationToken)
    {
        var download = await DownloadAsync(stored, mediaId, cancellationToken).ConfigureAwait(false);
        await using (download.ConfigureAwait(false))
        {
            return await store.SaveAsync(tenant, mediaId, download.Content, download.MimeType, cancellationToken).ConfigureAwait(false);
        }
    }

    public static void ThrowIfInvalidId(string mediaId)
    {
        if (MediaNames.Validate(mediaId) is { } problem)
        {
            throw new ArgumentException("Invalid media id: " + problem, nameof(mediaId));
        }
    }

    private async Task<CloudApiCredentials> GetCredentialsAsync(TenantId tenant, CancellationToken cancellationToken) =>
        await credentials.GetAsync(tenant, cancellationToken).ConfigureAwait(false)
        ?? throw new CloudApiException($"Tenant {tenant.Value} has no Cloud API credentials; set them first.", null, null, isTransient: false);

    /// <summary>The caller's file name without quotes, slashes or control characters (at most 200 characters), or one from the kind.</summary>
    private static string SafeFileName(string? fileName, MediaKind kind)
    {
        if (fileName is not null)
        {
            var safe = new string(fileName.Where(static c => !char.IsControl(c) && c is not ('"' or '\\' or '/')).Take(200).ToArray()).Trim();
            if (safe.Length > 0)
            {
                return safe;
            }
        }

        return kind.ToString().ToLowerInvariant();
    }
}

/// <summary>What <see cref="CloudApiMedia.Check"/> found: the kind, its size limit, the normalised MIME type and the known length.</summary>
internal readonly record struct UploadLimits(MediaKind Kind, long Max, string MimeType, long? Length);
