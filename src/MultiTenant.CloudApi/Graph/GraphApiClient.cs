using System.Buffers;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;
using MultiTenant.Clients;

namespace MultiTenant.CloudApi.Graph;

/// <summary>
/// The two Graph API calls the client needs, over the named <see cref="HttpClient"/> <see cref="CloudApiOptions.HttpClientName"/>:
/// the phone number's health probe and sending a message. Failures come back as <see cref="GraphApiException"/> carrying a
/// classified <see cref="GraphError"/>. Shared by all tenants; thread-safe. Media upload and download are in <c>GraphApiClient.Media.cs</c>.
/// </summary>
internal sealed partial class GraphApiClient
{
    /// <summary>The fields the probe reads from the phone number node.</summary>
    public const string ProbeFields = "health_status,display_phone_number,quality_rating";

    private const int MaxErrorBodySize = 64 * 1024;
    private const int MaxMessageLength = 300;
    private static readonly MediaTypeHeaderValue JsonMediaType = new("application/json") { CharSet = "utf-8" };

    private readonly IHttpClientFactory _httpClients;
    private readonly TimeProvider _time;
    private readonly string _root;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _mediaTimeout;

    public GraphApiClient(IHttpClientFactory httpClients, IOptions<CloudApiOptions> options, TimeProvider time)
    {
        _httpClients = httpClients;
        _time = time;
        var settings = options.Value;
        _root = settings.GraphBaseUrl.AbsoluteUri.TrimEnd('/') + "/" + settings.GraphApiVersion + "/";
        _timeout = settings.RequestTimeout;
        _mediaTimeout = settings.MediaRequestTimeout;
    }

    /// <summary><c>GET /{version}/{phone-number-id}?fields=health_status,…</c> with the tenant's token.</summary>
    /// <exception cref="GraphApiException">Graph refused the call, or it failed.</exception>
    public async Task<PhoneNumberHealthResponse> GetHealthAsync(CloudApiCredentials credentials, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _root + credentials.PhoneNumberId + "?fields=" + ProbeFields);
        return await SendAsync(request, credentials, CloudApiJsonContext.Default.PhoneNumberHealthResponse, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>POST /{version}/{phone-number-id}/messages</c>: <c>{"messaging_product":"whatsapp","recipient_type":"individual",…}</c> followed by
    /// the message object of <see cref="OutboundMessageJson"/>; returns the message id (<c>wamid…</c>).
    /// </summary>
    /// <exception cref="GraphApiException">Graph refused the message, or the call failed.</exception>
    public async Task<string> SendMessageAsync(CloudApiCredentials credentials, OutboundMessage message, CancellationToken cancellationToken)
    {
        var body = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(body))
        {
            writer.WriteStartObject();
            writer.WriteString("messaging_product", "whatsapp");
            writer.WriteString("recipient_type", "individual");
            OutboundMessageJson.WriteProperties(writer, message);
            writer.WriteEndObject();
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, _root + credentials.PhoneNumberId + "/messages")
        {
            Content = new ReadOnlyMemoryContent(body.WrittenMemory) { Headers = { ContentType = JsonMediaType } },
        };
        var response = await SendAsync(request, credentials, CloudApiJsonContext.Default.SendMessageResponse, cancellationToken).ConfigureAwait(false);
        var id = response.Messages is [{ Id: { Length: > 0 } messageId }, ..] ? messageId : null;
        return id ?? throw new GraphApiException(new GraphError(
            GraphErrorKind.ServerTransient, null, null, 200, "Graph accepted the message but returned no message id."));
    }

    /// <summary>
    /// <c>POST /{version}/{phone-number-id}/messages</c> with <c>{"messaging_product":"whatsapp","status":"read","message_id":"…"}</c>, and
    /// <c>"typing_indicator":{"type":"text"}</c> when <paramref name="typing"/> (shown until the reply is sent, at most 25 seconds).
    /// </summary>
    /// <exception cref="GraphApiException">Graph refused the call, or it failed.</exception>
    public async Task MarkReadAsync(CloudApiCredentials credentials, string messageId, bool typing, CancellationToken cancellationToken)
    {
        var body = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(body))
        {
            writer.WriteStartObject();
            writer.WriteString("messaging_product", "whatsapp");
            writer.WriteString("status", "read");
            writer.WriteString("message_id", messageId);
            if (typing)
            {
                writer.WriteStartObject("typing_indicator");
                writer.WriteString("type", "text");
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, _root + credentials.PhoneNumberId + "/messages")
        {
            Content = new ReadOnlyMemoryContent(body.WrittenMemory) { Headers = { ContentType = JsonMediaType } },
        };
        var response = await SendAsync(request, credentials, CloudApiJsonContext.Default.SuccessResponse, cancellationToken).ConfigureAwait(false);
        if (!response.Success)
        {
            throw new GraphApiException(new GraphError(GraphErrorKind.ServerTransient, null, null, 200, "Graph did not confirm the read receipt."));
        }
    }

    /// <summary>One page of <c>GET /{version}/{waba-id}/message_templates?fields=id,name,language,status,category&amp;limit=100</c>.</summary>
    /// <exception cref="GraphApiException">Graph refused the call, or it failed.</exception>
    public async Task<TemplatesResponse> GetTemplatesPageAsync(CloudApiCredentials credentials, string businessAccountId, string? after, CancellationToken cancellationToken)
    {
        string uri = _root + businessAccountId + "/message_templates?fields=id,name,language,status,category&limit=100"
            + (after is null ? string.Empty : "&after=" + Uri.EscapeDataString(after));
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        return await SendAsync(request, credentials, CloudApiJsonContext.Default.TemplatesResponse, cancellationToken).ConfigureAwait(false);
    }

    private Task<T> SendAsync<T>(HttpRequestMessage request, CloudApiCredentials credentials, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken, TimeSpan? timeout = null)
        where T : class
    {
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return SendCoreAsync(request, credentials, timeout ?? _timeout, cancellationToken, async (response, token) =>
        {
            using (response)
            {
                int status = (int)response.StatusCode;
                T? value;
                try
                {
                    value = await response.Content.ReadFromJsonAsync(typeInfo, token).ConfigureAwait(false);
                }
                catch (JsonException ex)
                {
                    throw new GraphApiException(new GraphError(GraphErrorKind.ServerTransient, null, null, status, "Graph returned a response that is not the expected JSON."), ex);
                }

                return value ?? throw new GraphApiException(new GraphError(GraphErrorKind.ServerTransient, null, null, status, "Graph returned an empty response."));
            }
        });
    }

    /// <summary>
    /// Sends <paramref name="request"/> with the tenant's token; a successful response goes to <paramref name="onSuccess"/>, which owns
    /// it. <paramref name="timeout"/> runs on the injected clock until <paramref name="onSuccess"/> returned.
    /// </summary>
    /// <exception cref="GraphApiException">Graph answered an error, or the call failed or timed out.</exception>
    private async Task<T> SendCoreAsync<T>(
        HttpRequestMessage request, CloudApiCredentials credentials, TimeSpan timeout, CancellationToken cancellationToken, Func<HttpResponseMessage, CancellationToken, Task<T>> onSuccess)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credentials.AccessToken);

        // The timeout runs on the injected clock (HttpClient.Timeout is infinite for this client).
        using var timer = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        var http = _httpClients.CreateClient(CloudApiOptions.HttpClientName);
        try
        {
            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                return await onSuccess(response, linked.Token).ConfigureAwait(false);
            }

            using (response)
            {
                throw new GraphApiException(await ReadErrorAsync(response, credentials, linked.Token).ConfigureAwait(false));
            }
        }
        catch (OperationCanceledException ex) when (timer.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new GraphApiException(new GraphError(GraphErrorKind.Network, null, null, null, $"The Graph API did not answer within {timeout}."), ex);
        }
        catch (HttpRequestException ex) when (FindMediaRejection(ex) is null)
        {
            throw new GraphApiException(new GraphError(GraphErrorKind.Network, null, null, null, "The Graph API could not be reached: " + DescribeNetworkError(ex)), ex);
        }
    }

    private static async Task<GraphError> ReadErrorAsync(HttpResponseMessage response, CloudApiCredentials credentials, CancellationToken cancellationToken)
    {
        int status = (int)response.StatusCode;
        GraphErrorBody? error = null;
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var buffer = new byte[MaxErrorBodySize];
                int length = 0;
                int read;
                while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    length += read;
                }

                error = JsonSerializer.Deserialize(buffer.AsSpan(0, length), CloudApiJsonContext.Default.GraphErrorEnvelope)?.Error;
            }
        }
        catch (JsonException)
        {
            // Not Graph's error shape (a proxy's HTML page, a truncated body): classified by the status alone.
        }

        var kind = GraphError.Classify(error?.Code, error?.ErrorSubcode, status);
        var message = new StringBuilder("Graph error ");
        if (error?.Code is { } code)
        {
            message.Append(code);
            if (error.ErrorSubcode is { } subcode)
            {
                message.Append('/').Append(subcode);
            }
        }
        else
        {
            message.Append("(HTTP ").Append(status).Append(')');
        }

        string? text = Scrub(error?.Message, credentials.AccessToken);
        if (text is not null)
        {
            message.Append(": ").Append(text);
        }

        string? details = Scrub(error?.ErrorData?.Details, credentials.AccessToken);
        if (details is not null && !string.Equals(details, text, StringComparison.Ordinal))
        {
            message.Append(" (").Append(details).Append(')');
        }

        return new GraphError(kind, error?.Code, error?.ErrorSubcode, status, message.ToString());
    }

    /// <summary>Graph's text, shortened, one line, with the token removed should Graph ever quote it.</summary>
    private static string? Scrub(string? text, string token)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        text = text.Replace(token, "***", StringComparison.Ordinal).ReplaceLineEndings(" ").Trim();
        return text.Length <= MaxMessageLength ? text : text[..MaxMessageLength] + "…";
    }

    private static string DescribeNetworkError(HttpRequestException ex) =>
        ex.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => "the host name could not be resolved.",
            HttpRequestError.ConnectionError => "the connection failed.",
            HttpRequestError.SecureConnectionError => "the TLS handshake failed.",
            HttpRequestError.ResponseEnded => "the response ended prematurely.",
            HttpRequestError.ProxyTunnelError => "the proxy tunnel failed.",
            _ => "the request failed (" + ex.HttpRequestError + ").",
        };
}

/// <summary>A failed Graph call, carrying the classified error.</summary>
internal sealed class GraphApiException(GraphError error, Exception? innerException = null) : Exception(error.Message, innerException)
{
    public GraphError Error { get; } = error;
}
