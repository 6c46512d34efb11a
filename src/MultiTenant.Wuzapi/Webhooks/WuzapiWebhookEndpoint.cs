using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.AspNetCore.Http;
using MultiTenant.Inbox;
using MultiTenant.Storage;
using MultiTenant.Wuzapi.Diagnostics;
using MultiTenant.Wuzapi.Users;

namespace MultiTenant.Wuzapi.Webhooks;

/// <summary>
/// <c>POST {path}/{business_id}</c>: the engine's webhook. Reads the raw body (bounded), looks up the tenant's engine user in the shared
/// state store (so any host of a fleet can take any tenant's delivery), checks <c>x-hmac-signature</c> (hex HMAC-SHA256 of the raw
/// body, keyed with the user's HMAC key) before parsing anything, reads the event from wuzapi's form body (<c>jsonData</c> and
/// <c>token</c>, which must be the user's token when present) or from a JSON body, writes its items into the tenant's durable inbox,
/// and answers 200 once they are committed. The host that runs the tenant delivers them to its handlers, once per key.
/// </summary>
/// <remarks>
/// Answers: 401 for an unknown tenant, a missing or wrong signature or token (one answer for all, so a caller learns nothing about
/// which tenants exist); 413 over <see cref="WuzapiOptions.MaxWebhookBodySize"/>; 400 for a signed body that is not an engine event;
/// 503 with Retry-After when the store is unreachable or the tenant's secrets cannot be decrypted on this host. An event type that is
/// not delivered as an event is acknowledged (200) and dropped.
/// </remarks>
internal sealed class WuzapiWebhookEndpoint(
    ITenantStateStoreProvider states,
    EngineUserStorage storage,
    ITenantInbox inbox,
    InboxMetrics inboxMetrics,
    IOptions<WuzapiOptions> options,
    ILogger<WuzapiWebhookEndpoint> logger)
{
    /// <summary>The header wuzapi signs its webhook requests with.</summary>
    public const string SignatureHeader = "x-hmac-signature";

    public const string BusinessIdRouteValue = "business_id";

    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(30);

    private readonly int _maxBodySize = options.Value.MaxWebhookBodySize;

    public async Task ReceiveAsync(HttpContext context)
    {
        if (!TenantId.TryParse(context.Request.RouteValues[BusinessIdRouteValue] as string, out var tenant))
        {
            Refuse(context, StatusCodes.Status401Unauthorized, "the business id is not valid");
            return;
        }

        BoundedRequestBody body;
        try
        {
            body = await BoundedRequestBody.ReadAsync(context, _maxBodySize).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            Refuse(context, StatusCodes.Status413PayloadTooLarge, "the body exceeds " + _maxBodySize.ToString(CultureInfo.InvariantCulture) + " bytes");
            return;
        }
        catch (BadHttpRequestException)
        {
            Refuse(context, StatusCodes.Status400BadRequest, "the body could not be read");
            return;
        }

        List<InboxWrite>? items;
        using (body)
        {
            EngineUser? user;
            try
            {
                user = await storage.ReadAsync(states.GetStore(tenant), context.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
            {
                // The store is unreachable, or this host cannot decrypt the tenant's key (a key-encryption key missing here).
                Log.WebhookStoreFailed(logger, ex.GetType().Name, ex);
                RetryLater(context);
                return;
            }

            if (user is null || !SignatureMatches(user.HmacKey, body.Span, context.Request.Headers[SignatureHeader]))
            {
                Refuse(context, StatusCodes.Status401Unauthorized, user is null ? "the tenant has no engine user" : "the signature is missing or wrong");
                return;
            }

            byte[]? json = EventJson(context.Request, body.Span, user.Token, out bool tokenMismatch);
            if (tokenMismatch)
            {
                Refuse(context, StatusCodes.Status401Unauthorized, "the body's token is not the tenant's");
                return;
            }

            items = json is null ? null : WuzapiInboxItems.Create(tenant, json);
        }

        if (items is null)
        {
            Refuse(context, StatusCodes.Status400BadRequest, "the signed body is not a wuzapi event");
            return;
        }

        if (items.Count > 0)
        {
            try
            {
                // 200 only once the items are committed: acknowledged means stored.
                var written = await inbox.WriteAsync(items, context.RequestAborted).ConfigureAwait(false);
                inboxMetrics.Items("added", written.Added);
                inboxMetrics.Items("duplicate", written.Duplicates);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
            {
                Log.WebhookStoreFailed(logger, ex.GetType().Name, ex);
                RetryLater(context);
                return;
            }
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    /// <summary>Whether <paramref name="header"/> is the hex HMAC-SHA256 of <paramref name="body"/> under <paramref name="key"/> (constant time).</summary>
    public static bool SignatureMatches(string key, ReadOnlySpan<byte> body, string? header)
    {
        if (string.IsNullOrEmpty(header) || header.Length != 64)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[32];
        Span<byte> given = stackalloc byte[32];
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), body, expected);
        return Convert.FromHexString(header, given, out _, out int written) == System.Buffers.OperationStatus.Done
            && written == 32
            && CryptographicOperations.FixedTimeEquals(expected, given);
    }

    /// <summary>
    /// The event JSON: the <c>jsonData</c> field of a form body (wuzapi's format; its <c>token</c> field, when present, must be the
    /// user's), or a JSON body as it is.
    /// </summary>
    private static byte[]? EventJson(HttpRequest request, ReadOnlySpan<byte> body, string token, out bool tokenMismatch)
    {
        tokenMismatch = false;
        if (!request.HasFormContentType)
        {
            return body.ToArray();
        }

        Dictionary<string, Microsoft.Extensions.Primitives.StringValues> form;
        try
        {
            using var reader = new FormReader(Encoding.UTF8.GetString(body));
            form = reader.ReadForm();
        }
        catch (InvalidDataException)
        {
            return null;
        }

        if (form.TryGetValue("token", out var given) && !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given.ToString()), Encoding.UTF8.GetBytes(token)))
        {
            tokenMismatch = true;
            return null;
        }

        return form.TryGetValue("jsonData", out var json) && json.Count == 1 ? Encoding.UTF8.GetBytes(json.ToString()) : null;
    }

    private void Refuse(HttpContext context, int statusCode, string reason)
    {
        Log.WebhookRefused(logger, statusCode, reason);
        context.Response.StatusCode = statusCode;
    }

    private static void RetryLater(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = ((int)RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
    }
}
