using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.AspNetCore.Http;
using MultiTenant.CloudApi.Diagnostics;
using MultiTenant.CloudApi.Webhooks;

namespace MultiTenant.CloudApi.Endpoints;

/// <summary>The HTTP side of the webhook: the verification handshake (GET) and signed deliveries (POST).</summary>
internal sealed class WebhookEndpoint
{
    /// <summary>The route value naming the Meta app of <c>{path}/{app_id}</c>.</summary>
    public const string AppIdRouteValue = "app_id";

    private const int MaxChallengeLength = 1024;
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(60);

    private readonly WebhookProcessor _processor;
    private readonly CloudApiMetrics _metrics;
    private readonly ILogger _logger;
    private readonly WebhookApps _apps;
    private readonly int _maxBodySize;

    public WebhookEndpoint(WebhookProcessor processor, CloudApiMetrics metrics, WebhookApps apps, IOptions<CloudApiOptions> options, ILogger<WebhookProcessor> logger)
    {
        _processor = processor;
        _metrics = metrics;
        _logger = logger;
        _apps = apps;
        _maxBodySize = options.Value.MaxWebhookBodySize;
    }

    /// <summary>
    /// <c>GET ?hub.mode=subscribe&amp;hub.verify_token=…&amp;hub.challenge=…</c>: 200 with the challenge as text/plain when the token
    /// matches (compared in constant time), otherwise 403.
    /// </summary>
    public async Task VerifyAsync(HttpContext context)
    {
        if (FindApp(context) is not { } app)
        {
            return;
        }

        var query = context.Request.Query;
        string? mode = query["hub.mode"];
        string? token = query["hub.verify_token"];
        string? challenge = query["hub.challenge"];
        string? problem =
            !string.Equals(mode, "subscribe", StringComparison.Ordinal) ? "hub.mode is not 'subscribe'"
            : !app.MatchesVerifyToken(token) ? "hub.verify_token does not match"
            : string.IsNullOrEmpty(challenge) || challenge.Length > MaxChallengeLength ? "hub.challenge is missing or too long"
            : null;
        if (problem is not null)
        {
            Log.WebhookVerificationFailed(_logger, problem);
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        await context.Response.WriteAsync(challenge!, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>POST</c>: reads the raw body (bounded), checks <c>X-Hub-Signature-256</c> before parsing anything (401 when missing or
    /// wrong), parses Meta's payload (400 when not JSON), stores its items in the durable inbox, and answers 200 once they are
    /// committed, or 503 with Retry-After when they could not be stored (store unreachable, unrouted bound reached).
    /// </summary>
    public async Task ReceiveAsync(HttpContext context)
    {
        if (FindApp(context) is not { } app)
        {
            return;
        }

        BoundedRequestBody body;
        try
        {
            body = await BoundedRequestBody.ReadAsync(context, _maxBodySize).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            Refuse(context, StatusCodes.Status413PayloadTooLarge, "too_large", "the body exceeds " + _maxBodySize.ToString(CultureInfo.InvariantCulture) + " bytes");
            return;
        }
        catch (BadHttpRequestException)
        {
            Refuse(context, StatusCodes.Status400BadRequest, "bad_request", "the body could not be read");
            return;
        }

        JsonDocument? payload;
        using (body)
        {
            string? signatureProblem = app.VerifySignature(body.Span, context.Request.Headers[WebhookSignature.HeaderName]);
            if (signatureProblem is not null)
            {
                Refuse(context, StatusCodes.Status401Unauthorized, "unauthorized", signatureProblem);
                return;
            }

            try
            {
                var reader = new Utf8JsonReader(body.Span);
                payload = JsonDocument.ParseValue(ref reader);
            }
            catch (JsonException)
            {
                payload = null;
            }
        }

        if (payload is null || payload.RootElement.ValueKind != JsonValueKind.Object)
        {
            payload?.Dispose();
            Refuse(context, StatusCodes.Status400BadRequest, "bad_request", "the signed body is not a webhook payload");
            return;
        }

        WebhookOutcome outcome;
        using (payload)
        {
            // 200 only once every item is committed to the inbox (or kept for an unknown number): acknowledged means stored.
            outcome = await _processor.ProcessAsync(payload.RootElement, context.RequestAborted).ConfigureAwait(false);
        }

        if (outcome == WebhookOutcome.RetryLater)
        {
            _metrics.WebhookRequest("retry");
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = ((int)RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            return;
        }

        _metrics.WebhookRequest("accepted");
        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    /// <summary>The app of the request's route (the default app without <c>{app_id}</c>); 404 and <see langword="null"/> when unknown.</summary>
    private WebhookApp? FindApp(HttpContext context)
    {
        var app = _apps.Find(context.Request.RouteValues[AppIdRouteValue] as string);
        if (app is null)
        {
            Refuse(context, StatusCodes.Status404NotFound, "unknown_app", "no Meta app is configured for this webhook path");
        }

        return app;
    }

    private void Refuse(HttpContext context, int statusCode, string result, string reason)
    {
        _metrics.WebhookRequest(result);
        Log.WebhookRefused(_logger, statusCode, reason);
        context.Response.StatusCode = statusCode;
    }
}
