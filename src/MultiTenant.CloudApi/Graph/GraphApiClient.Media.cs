using System.Net.Http.Headers;
using MultiTenant.CloudApi.Media;

namespace MultiTenant.CloudApi.Graph;

/// <summary>The media calls: upload (<c>POST /{phone-number-id}/media</c>), the media node (<c>GET /{media-id}</c>) and its download.</summary>
internal sealed partial class GraphApiClient
{
    /// <summary>
    /// <c>POST /{version}/{phone-number-id}/media</c>, <c>multipart/form-data</c> with the parts <c>messaging_product=whatsapp</c>,
    /// <c>type={mime}</c> and <c>file</c> (the bytes, streamed from <paramref name="file"/>, with its file name and content type), as
    /// Meta's <c>curl -F</c> example; returns Graph's <c>{"id":"…"}</c>. Runs under <see cref="CloudApiOptions.MediaRequestTimeout"/>.
    /// </summary>
    /// <exception cref="MediaRejectedException">The file turned out larger than its kind allows while it was sent (the upload is aborted).</exception>
    /// <exception cref="GraphApiException">Graph refused the upload, or the call failed.</exception>
    public async Task<string> UploadMediaAsync(CloudApiCredentials credentials, MediaUploadContent file, string mimeType, string fileName, CancellationToken cancellationToken)
    {
        using var form = new MultipartFormDataContent("MultiTenant-" + Guid.NewGuid().ToString("N"));
        form.Add(new ByteArrayContent("whatsapp"u8.ToArray()), "messaging_product");
        form.Add(new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(mimeType)), "type");
        file.Headers.ContentType = new MediaTypeHeaderValue(mimeType);
        form.Add(file, "file", fileName);
        using var request = new HttpRequestMessage(HttpMethod.Post, _root + credentials.PhoneNumberId + "/media") { Content = form };
        try
        {
            var response = await SendAsync(request, credentials, CloudApiJsonContext.Default.MediaUploadResponse, cancellationToken, _mediaTimeout).ConfigureAwait(false);
            return response.Id is { Length: > 0 } id ? id : throw new GraphApiException(new GraphError(
                GraphErrorKind.ServerTransient, null, null, 200, "Graph accepted the upload but returned no media id."));
        }
        catch (HttpRequestException ex) when (FindMediaRejection(ex) is { } rejection)
        {
            throw rejection;
        }
    }

    /// <summary><c>GET /{version}/{media-id}?phone_number_id=…</c>: the media's temporary URL, MIME type, SHA-256 and size.</summary>
    /// <exception cref="GraphApiException">Graph refused the call (an unknown id is error 100), or it failed.</exception>
    public Task<MediaInfoResponse> GetMediaInfoAsync(CloudApiCredentials credentials, string mediaId, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, _root + Uri.EscapeDataString(mediaId) + "?phone_number_id=" + Uri.EscapeDataString(credentials.PhoneNumberId));
        return DisposeAfter(request, SendAsync(request, credentials, CloudApiJsonContext.Default.MediaInfoResponse, cancellationToken));
    }

    /// <summary>
    /// <c>GET {url}</c> of a media node with the tenant's token (Meta's media URLs need it); returns the response once its headers
    /// arrived, for the caller to stream and dispose. The timeout covers the headers only.
    /// </summary>
    /// <exception cref="GraphApiException">The URL answered an error, or the call failed.</exception>
    public Task<HttpResponseMessage> OpenMediaAsync(CloudApiCredentials credentials, Uri url, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        return DisposeAfter(request, SendCoreAsync(request, credentials, _timeout, cancellationToken, static (response, _) => Task.FromResult(response)));
    }

    private static async Task<T> DisposeAfter<T>(HttpRequestMessage request, Task<T> call)
    {
        using (request)
        {
            return await call.ConfigureAwait(false);
        }
    }

    /// <summary>The <see cref="MediaRejectedException"/> the upload content threw, which the handler wrapped.</summary>
    private static MediaRejectedException? FindMediaRejection(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is MediaRejectedException rejection)
            {
                return rejection;
            }
        }

        return null;
    }
}
