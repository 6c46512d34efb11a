using MultiTenant.Media;

namespace MultiTenant.CloudApi;

/// <summary>
/// Media of the Cloud API: upload a file to send it by id, download an inbound message's file. Files are streamed, never held whole in
/// memory. Uses the tenant's credentials from <see cref="ICloudApiCredentialStore"/>, so any host of a fleet can call it.
/// </summary>
/// <remarks>Limits (Meta's supported media types): images JPEG/PNG up to 5 MB; audio AAC, AMR, MPEG, MP4, OGG up to 16 MB; video
/// MP4/3GPP up to 16 MB; documents (text, PDF, Word, Excel, PowerPoint) up to 100 MB; stickers WebP up to 100 KB (500 KB animated).
/// A media id is valid for 30 days after upload; the URL behind an inbound media id for 5 minutes, so download soon after the event.</remarks>
public interface ICloudApiMedia
{
    /// <summary>
    /// Uploads a file (<c>POST /{phone-number-id}/media</c>) and returns its media id, to send with
    /// <see cref="Clients.MediaSource.FromId"/>. The type and, when known, the size are checked before any Graph call; a stream of
    /// unknown length is counted as it is sent and the upload aborted once it is too large.
    /// </summary>
    /// <param name="tenant">The tenant whose phone number uploads.</param>
    /// <param name="content">The bytes, read once to the end; not disposed. Its length is used when it can seek.</param>
    /// <param name="contentType">The MIME type, for example <c>image/jpeg</c> (parameters such as <c>codecs=opus</c> are allowed).</param>
    /// <param name="fileName">The file name Graph records (documents show it), or <see langword="null"/> for one derived from the type.</param>
    /// <param name="length">The length in bytes when known and <paramref name="content"/> cannot seek, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the upload.</param>
    /// <returns>Graph's media id.</returns>
    /// <exception cref="MediaRejectedException">The type is not supported, or the file is empty or too large for its kind.</exception>
    /// <exception cref="CloudApiException">The tenant has no credentials, or Graph refused the upload.</exception>
    Task<string> UploadAsync(TenantId tenant, Stream content, string contentType, string? fileName = null, long? length = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens a media file (<c>GET /{media-id}</c>, then its URL with the token) for streaming. Dispose the result. Reading its
    /// <see cref="CloudApiMediaDownload.Content"/> to the end checks the length and SHA-256 Graph announced.
    /// </summary>
    /// <param name="tenant">The tenant that received the media.</param>
    /// <param name="mediaId">The media id (from an inbound media event, or an upload).</param>
    /// <param name="cancellationToken">Cancels the call (and reading the content).</param>
    /// <exception cref="ArgumentException"><paramref name="mediaId"/> is not a valid id (see <see cref="MediaNames.Validate"/>).</exception>
    /// <exception cref="MediaRejectedException">Graph announced a file larger than 100 MB.</exception>
    /// <exception cref="CloudApiException">The tenant has no credentials, or Graph refused the call (error 100: no such media).</exception>
    Task<CloudApiMediaDownload> DownloadAsync(TenantId tenant, string mediaId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Downloads a media file into the <see cref="IMediaStore"/> under its media id, checking length and SHA-256 before the file
    /// appears there.
    /// </summary>
    /// <param name="tenant">The tenant that received the media.</param>
    /// <param name="mediaId">The media id.</param>
    /// <param name="cancellationToken">Cancels the download; nothing is stored then.</param>
    /// <returns>What was stored.</returns>
    /// <exception cref="ArgumentException"><paramref name="mediaId"/> is not a valid id.</exception>
    /// <exception cref="MediaRejectedException">The download did not match its announced length or SHA-256, or is too large.</exception>
    /// <exception cref="CloudApiException">The tenant has no credentials, or Graph refused the call.</exception>
    Task<StoredMedia> DownloadToStoreAsync(TenantId tenant, string mediaId, CancellationToken cancellationToken = default);
}

/// <summary>An open media download. Dispose it (it holds the HTTP response).</summary>
public sealed class CloudApiMediaDownload : IDisposable, IAsyncDisposable
{
    internal CloudApiMediaDownload(string mediaId, string mimeType, long? length, string? sha256, Stream content)
    {
        MediaId = mediaId;
        MimeType = mimeType;
        Length = length;
        Sha256 = sha256;
        Content = content;
    }

    /// <summary>The media id.</summary>
    public string MediaId { get; }

    /// <summary>The MIME type Graph announced, for example <c>image/jpeg</c> or <c>audio/ogg; codecs=opus</c>.</summary>
    public string MimeType { get; }

    /// <summary>The length in bytes Graph announced, when it did.</summary>
    public long? Length { get; }

    /// <summary>The SHA-256 Graph announced, as Graph wrote it, when it did.</summary>
    public string? Sha256 { get; }

    /// <summary>The bytes, read-only and forward-only. The read that reaches the end throws <see cref="MediaRejectedException"/> when
    /// the length or SHA-256 differs from what Graph announced.</summary>
    public Stream Content { get; }

    /// <inheritdoc/>
    public void Dispose() => Content.Dispose();

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => Content.DisposeAsync();
}
