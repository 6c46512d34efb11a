using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MultiTenant.AspNetCore.Diagnostics;
using MultiTenant.AspNetCore.Http;
using MultiTenant.Idempotency;

namespace MultiTenant.AspNetCore.Api;

/// <summary>
/// <c>Idempotency-Key</c> on <c>POST {prefix}/{business_id}/messages</c>: the first request with a key (per tenant, for 24 h, in the
/// <see cref="ITenantIdempotencyStore"/> every host shares) sends; a retry with the same key and the byte-identical body is answered
/// 202 with the same <c>message_id</c> (and <c>Idempotent-Replayed: true</c>) without sending; the same key with another body 422
/// <c>idempotency_key_reused</c>; a duplicate while the first is still sending 409 <c>in_progress</c> with <c>Retry-After: 1</c>
/// (retry it: it then gets the message id). A send that did not answer 202 frees the key, so its retry sends. An invalid key
/// (empty, over 255 characters, not printable ASCII, or several headers) is 400 <c>invalid_idempotency_key</c>.
/// </summary>
/// <remarks>
/// A wrapper of the endpoint's request delegate rather than an <c>IEndpointFilter</c>: it must hash the raw body before anything binds
/// it, and it reads the message id from the documented 202 answer, so it works whatever shape the handler has.
/// </remarks>
internal static class IdempotencyKeyFilter
{
    public const string HeaderName = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";

    /// <summary>Puts the endpoint under the <c>Idempotency-Key</c> protocol; bodies are read up to <paramref name="maxBodySize"/> bytes.</summary>
    public static TBuilder WithIdempotencyKey<TBuilder>(this TBuilder builder, int maxBodySize, ILogger logger)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.Finally(endpoint =>
        {
            var inner = endpoint.RequestDelegate ?? throw new InvalidOperationException("The send endpoint has no request delegate.");
            endpoint.RequestDelegate = context => InvokeAsync(context, inner, maxBodySize, logger);
        });
        return builder;
    }

    private static async Task InvokeAsync(HttpContext context, RequestDelegate inner, int maxBodySize, ILogger logger)
    {
        var header = context.Request.Headers[HeaderName];
        if (header.Count == 0)
        {
            await inner(context).ConfigureAwait(false);
            return;
        }

        string? key = header.Count == 1 ? header[0] : null;
        if ((key is null ? "Send one Idempotency-Key header." : TenantIdempotency.ValidateKey(key)) is { } invalid)
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, invalid, "invalid_idempotency_key").ConfigureAwait(false);
            return;
        }

        if (context.Request.RouteValues[TenantApiHandlers.BusinessIdRouteValue] is not string id || !TenantId.TryParse(id, out var tenant)
            || await HashBodyAsync(context, maxBodySize).ConfigureAwait(false) is not { } hash)
        {
            // The endpoint answers an invalid id or body itself (400, 413), and nothing is sent.
            await inner(context).ConfigureAwait(false);
            return;
        }

        var store = context.RequestServices.GetRequiredService<ITenantIdempotencyStore>();
        IdempotencyResult begun;
        try
        {
            begun = await store.BeginAsync(tenant, key!, hash, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            Log.IdempotencyStoreFailed(logger, tenant.Value, ex);
            Problems.SetRetryAfter(context, TimeSpan.FromSeconds(1));
            await Problems.WriteAsync(
                context,
                StatusCodes.Status503ServiceUnavailable,
                "The idempotency keys cannot be checked right now; nothing was sent. Retry with the same key.",
                "idempotency_unavailable").ConfigureAwait(false);
            return;
        }

        switch (begun.State)
        {
            case IdempotencyState.Completed:
                Log.IdempotentReplay(logger, tenant.Value);
                await WriteAcceptedAsync(context, begun.MessageId!).ConfigureAwait(false);
                return;
            case IdempotencyState.InProgress:
                Problems.SetRetryAfter(context, TimeSpan.FromSeconds(1));
                await Problems.WriteAsync(
                    context,
                    StatusCodes.Status409Conflict,
                    "A request with this Idempotency-Key is still being sent; retry it to get its message id.",
                    "in_progress").ConfigureAwait(false);
                return;
            case IdempotencyState.Mismatch:
                await Problems.WriteAsync(
                    context,
                    StatusCodes.Status422UnprocessableEntity,
                    "This Idempotency-Key was used for a different request in the last 24 hours; use a new key for a new message.",
                    "idempotency_key_reused").ConfigureAwait(false);
                return;
        }

        await SendOnceAsync(context, inner, store, tenant, key!, logger).ConfigureAwait(false);
    }

    /// <summary>Runs the send with its answer buffered, then records its message id (202) or frees the key (anything else).</summary>
    private static async Task SendOnceAsync(HttpContext context, RequestDelegate inner, ITenantIdempotencyStore store, TenantId tenant, string key, ILogger logger)
    {
        var response = context.Response;
        var original = response.Body;
        using var buffer = new MemoryStream();
        string? messageId = null;
        response.Body = buffer;
        try
        {
            await inner(context).ConfigureAwait(false);
            await response.BodyWriter.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            if (response.StatusCode == StatusCodes.Status202Accepted)
            {
                messageId = ReadMessageId(buffer);
            }
        }
        finally
        {
            response.Body = original;
            try
            {
                if (messageId is not null)
                {
                    await store.CompleteAsync(tenant, key, messageId, CancellationToken.None).ConfigureAwait(false);
                }
                else
                {
                    await store.ReleaseAsync(tenant, key, CancellationToken.None).ConfigureAwait(false);
                }
            }
            catch (Exception ex)
            {
                // The key stays claimed: retries get 409 until the in-progress timeout (5 min), then send again.
                Log.IdempotencyStoreFailed(logger, tenant.Value, ex);
            }
        }

        buffer.Position = 0;
        await buffer.CopyToAsync(original, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The SHA-256 of the body (read with the API's size limit and rewound for the endpoint), or null when it cannot be read.</summary>
    private static async ValueTask<byte[]?> HashBodyAsync(HttpContext context, int maxBodySize)
    {
        var request = context.Request;
        request.EnableBuffering();
        try
        {
            using var body = await BoundedRequestBody.ReadAsync(context, maxBodySize).ConfigureAwait(false);
            return SHA256.HashData(body.Span);
        }
        catch (BadHttpRequestException)
        {
            return null;
        }
        finally
        {
            request.Body.Position = 0;
        }
    }

    private static string? ReadMessageId(MemoryStream buffer)
    {
        try
        {
            var reader = new Utf8JsonReader(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("message_id"))
                {
                    return reader.Read() && reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // not JSON, or a string that is not valid UTF-8 / Unicode: no "to" to read
        }

        return null;
    }

    private static async Task WriteAcceptedAsync(HttpContext context, string messageId)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status202Accepted;
        response.ContentType = "application/json; charset=utf-8";
        response.Headers[ReplayedHeader] = "true";
        await using (var json = new Utf8JsonWriter(response.BodyWriter))
        {
            json.WriteStartObject();
            json.WriteString("message_id", messageId);
            json.WriteEndObject();
        }

        await response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }
}
