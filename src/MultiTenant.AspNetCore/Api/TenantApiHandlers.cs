using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MultiTenant.AspNetCore.Diagnostics;
using MultiTenant.AspNetCore.Http;
using MultiTenant.Clients;
using MultiTenant.Hosting;

namespace MultiTenant.AspNetCore.Api;

/// <summary>The request handlers of the tenant API (SPEC §3). Every answer but a success is a problem details document.</summary>
internal sealed class TenantApiHandlers(TenantApiOptions options, ILogger logger)
{
    public const string BusinessIdRouteValue = "business_id";

    private const string StartExample = """{"business_id":"tenant1"}""";
    private const string MessageExample = """{"to":"15551234567","text":"hi"}""";
    private const int MaxRecipientLength = 128;
    private const int MaxPhoneDigits = 32;

    private static readonly string[] StartMembers = ["business_id"];
    private static readonly string[] MessageMembers = ["to", "text"];

    /// <summary><c>POST {prefix}</c>: starts a tenant. 201 with its location; 400, 409, 413, 415, 503.</summary>
    public async Task StartAsync(HttpContext context)
    {
        string?[] values = new string?[1];
        if (await ReadBodyAsync(context, StartMembers, values, StartExample).ConfigureAwait(false) is { } bodyError)
        {
            await RejectAsync(context, nameof(StartAsync), bodyError).ConfigureAwait(false);
            return;
        }

        string businessId = values[0]!;
        if (TenantId.Validate(businessId) is { } invalid)
        {
            await RejectAsync(context, nameof(StartAsync), new RequestError(StatusCodes.Status400BadRequest, invalid)).ConfigureAwait(false);
            return;
        }

        var tenant = TenantId.Parse(businessId);
        if (!MultiTenant.AspNetCore.Security.TenantApiAuthentication.MayActFor(context.User, tenant))
        {
            await RejectAsync(context, nameof(StartAsync), new RequestError(StatusCodes.Status403Forbidden, "This API key may not act on this tenant.")).ConfigureAwait(false);
            return;
        }

        var coordinator = Coordinator(context);
        try
        {
            await coordinator.StartAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        }
        catch (TenantAlreadyRunningException ex)
        {
            // The owner host is named only where statuses name it too.
            string detail = options.IncludeHost && ex.Host is not null ? ex.Message : $"Tenant '{tenant}' is already running.";
            await RejectAsync(context, nameof(StartAsync), new RequestError(StatusCodes.Status409Conflict, detail)).ConfigureAwait(false);
            return;
        }
        catch (TenantCoordinatorStoppingException ex)
        {
            await RejectAsync(context, nameof(StartAsync), new RequestError(StatusCodes.Status503ServiceUnavailable, ex.Message)).ConfigureAwait(false);
            return;
        }
        catch (TenantLimitReachedException ex)
        {
            await Problems.WriteAsync(context, StatusCodes.Status409Conflict, ex.Message, "tenant_limit_reached").ConfigureAwait(false);
            return;
        }

        Log.TenantCommand(logger, "started", tenant.Value);
        var request = context.Request;
        string collection = (request.PathBase + request.Path).Value?.TrimEnd('/') ?? string.Empty;
        context.Response.Headers.Location = collection + "/" + Uri.EscapeDataString(tenant.Value);
        context.Response.StatusCode = StatusCodes.Status201Created;
        await context.Response.WriteAsJsonAsync(
            new TenantCommandResponse { Status = "started", BusinessId = tenant.Value },
            ApiJson.Context.TenantCommandResponse,
            contentType: null,
            context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary><c>GET {prefix}</c>: every tenant's status, in ordinal order of the ids. 200.</summary>
    public async Task ListAsync(HttpContext context)
    {
        var all = await Coordinator(context).ListStatusesAsync(context.RequestAborted).ConfigureAwait(false);

        // A tenant key sees its own tenant only.
        var statuses = all.Where(s => MultiTenant.AspNetCore.Security.TenantApiAuthentication.MayActFor(context.User, s.BusinessId)).ToArray();
        var body = new TenantStatusResponse[statuses.Length];
        for (int i = 0; i < body.Length; i++)
        {
            body[i] = TenantStatusResponse.From(statuses[i], options.IncludeHost);
        }

        await context.Response.WriteAsJsonAsync(body, ApiJson.Context.TenantStatusResponseArray, contentType: null, context.RequestAborted)
            .ConfigureAwait(false);
    }

    /// <summary><c>GET {prefix}/{business_id}</c>: one status. 200; 400, 404.</summary>
    public async Task GetAsync(HttpContext context)
    {
        if (await RouteTenantAsync(context, nameof(GetAsync)).ConfigureAwait(false) is not { } tenant)
        {
            return;
        }

        var status = await Coordinator(context).GetStatusAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        if (status is null)
        {
            await RejectAsync(context, nameof(GetAsync), NotFound(tenant)).ConfigureAwait(false);
            return;
        }

        await context.Response.WriteAsJsonAsync(
            TenantStatusResponse.From(status, options.IncludeHost),
            ApiJson.Context.TenantStatusResponse,
            contentType: null,
            context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary><c>DELETE {prefix}/{business_id}</c>: stops a tenant. 200; 400, 404.</summary>
    public async Task StopAsync(HttpContext context)
    {
        if (await RouteTenantAsync(context, nameof(StopAsync)).ConfigureAwait(false) is not { } tenant)
        {
            return;
        }

        try
        {
            await Coordinator(context).StopAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        }
        catch (TenantNotFoundException)
        {
            await RejectAsync(context, nameof(StopAsync), NotFound(tenant)).ConfigureAwait(false);
            return;
        }

        Log.TenantCommand(logger, "stopped", tenant.Value);
        await context.Response.WriteAsJsonAsync(
            new TenantCommandResponse { Status = "stopped", BusinessId = tenant.Value },
            ApiJson.Context.TenantCommandResponse,
            contentType: null,
            context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>POST {prefix}/{business_id}/messages</c>: sends a text message. 202 with the message id; 400, 404, 409 (not connected),
    /// 413, 415, 429 (the backend asked to retry later), 502 (the backend refused it).
    /// </summary>
    public async Task SendMessageAsync(HttpContext context)
    {
        if (await RouteTenantAsync(context, nameof(SendMessageAsync)).ConfigureAwait(false) is not { } tenant)
        {
            return;
        }

        string?[] values = new string?[2];
        if (await ReadBodyAsync(context, MessageMembers, values, MessageExample).ConfigureAwait(false) is { } bodyError)
        {
            await RejectAsync(context, nameof(SendMessageAsync), bodyError).ConfigureAwait(false);
            return;
        }

        string to = values[0]!;
        string text = values[1]!;
        if ((ValidateRecipient(to) ?? ValidateText(text, options.MaxMessageLength)) is { } invalid)
        {
            await RejectAsync(context, nameof(SendMessageAsync), new RequestError(StatusCodes.Status400BadRequest, invalid)).ConfigureAwait(false);
            return;
        }

        SendMessageResult result;
        try
        {
            result = await Coordinator(context).SendMessageAsync(tenant, new OutboundMessage(to, text), context.RequestAborted).ConfigureAwait(false);
        }
        catch (TenantNotFoundException)
        {
            await RejectAsync(context, nameof(SendMessageAsync), NotFound(tenant)).ConfigureAwait(false);
            return;
        }
        catch (TenantNotConnectedException ex)
        {
            await RejectAsync(context, nameof(SendMessageAsync), new RequestError(StatusCodes.Status409Conflict, ex.Message)).ConfigureAwait(false);
            return;
        }
        catch (TenantUnavailableException ex)
        {
            // Nothing was sent: a retry is safe.
            long seconds = Math.Max(1, (long)Math.Ceiling((ex.RetryAfter ?? TimeSpan.FromSeconds(1)).TotalSeconds));
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            await Problems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, ex.Message, "tenant_unavailable").ConfigureAwait(false);
            return;
        }
        catch (TenantSendException ex)
        {
            Log.SendRefused(logger, tenant.Value, ex.IsTransient, ex.ErrorCode);
            int status = StatusCodes.Status502BadGateway;
            if (ex.IsTransient && ex.RetryAfter is { } retryAfter)
            {
                status = StatusCodes.Status429TooManyRequests;
                long seconds = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds));
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            }

            string detail = string.IsNullOrWhiteSpace(ex.Message) ? "The backend refused the message." : ex.Message;
            await Problems.WriteAsync(context, status, detail, ex.ErrorCode).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status202Accepted;
        await context.Response.WriteAsJsonAsync(
            new MessageAcceptedResponse { MessageId = result.MessageId },
            ApiJson.Context.MessageAcceptedResponse,
            contentType: null,
            context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// Validates a recipient: a phone number in international format without '+' (1 to 32 digits), or a JID <c>user@server</c>
    /// (user: letters, digits, '.', '_', ':', '-'; server: letters, digits, '.', '-'), at most 128 characters.
    /// </summary>
    internal static string? ValidateRecipient(string to)
    {
        const string shape = "a phone number in international format without '+' (1 to 32 digits, e.g. 15551234567) or a WhatsApp JID such as 15551234567@s.whatsapp.net.";
        const string expected = "'to' must be " + shape;
        if (to.Length == 0)
        {
            return "'to' must not be empty; it is " + shape;
        }

        if (to.Length > MaxRecipientLength)
        {
            return $"'to' must be at most {MaxRecipientLength} characters long; it has {to.Length}.";
        }

        int at = to.IndexOf('@', StringComparison.Ordinal);
        if (at < 0)
        {
            foreach (char c in to)
            {
                if (!char.IsAsciiDigit(c))
                {
                    return expected;
                }
            }

            return to.Length <= MaxPhoneDigits ? null : $"'to' as a phone number has at most {MaxPhoneDigits} digits; it has {to.Length}.";
        }

        if (at == 0 || at == to.Length - 1)
        {
            return expected;
        }

        for (int i = 0; i < to.Length; i++)
        {
            char c = to[i];
            bool allowed = i == at
                || (i < at
                    ? char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-'
                    : char.IsAsciiLetterOrDigit(c) || c is '.' or '-');
            if (!allowed)
            {
                return expected;
            }
        }

        return null;
    }

    /// <summary>Validates a message text: 1 to <paramref name="maxLength"/> characters, no NUL.</summary>
    internal static string? ValidateText(string text, int maxLength)
    {
        if (text.Length == 0)
        {
            return "'text' must not be empty.";
        }

        if (text.Length > maxLength)
        {
            return $"'text' must be at most {maxLength} characters long; it has {text.Length}.";
        }

        if (text.Contains('\0', StringComparison.Ordinal))
        {
            return "'text' must not contain NUL characters.";
        }

        return null;
    }

    private static ITenantCoordinator Coordinator(HttpContext context) => context.RequestServices.GetRequiredService<ITenantCoordinator>();

    private static RequestError NotFound(TenantId tenant) => new(StatusCodes.Status404NotFound, $"Tenant '{tenant}' is not known.");

    private async ValueTask<TenantId?> RouteTenantAsync(HttpContext context, string endpoint)
    {
        string? businessId = context.Request.RouteValues[BusinessIdRouteValue] as string;
        if (TenantId.Validate(businessId) is { } invalid)
        {
            await RejectAsync(context, endpoint, new RequestError(StatusCodes.Status400BadRequest, invalid)).ConfigureAwait(false);
            return null;
        }

        return TenantId.Parse(businessId!);
    }

    private async ValueTask<RequestError?> ReadBodyAsync(HttpContext context, string[] members, string?[] values, string example)
    {
        if (JsonRequestBody.CheckContentType(context.Request) is { } contentTypeError)
        {
            return contentTypeError;
        }

        BoundedRequestBody body;
        try
        {
            body = await BoundedRequestBody.ReadAsync(context, options.MaxRequestBodySize).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex)
        {
            return new RequestError(ex.StatusCode, ex.Message);
        }

        using (body)
        {
            return JsonRequestBody.ParseStringObject(body.Span, members, values, example);
        }
    }

    private Task RejectAsync(HttpContext context, string endpoint, RequestError error)
    {
        Log.RequestRejected(logger, endpoint, error.StatusCode, error.Detail);
        return Problems.WriteAsync(context, error.StatusCode, error.Detail);
    }
}
