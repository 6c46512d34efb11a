using System.Reflection;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MultiTenant.AspNetCore.Http;
using MultiTenant.Clients;

namespace MultiTenant.AspNetCore.Api;

/// <summary>
/// A request body record of the tenant API. Its <c>BindAsync</c> reads the body with <see cref="StrictJsonBody"/> and validates it;
/// a body that fails sets <see cref="Problem"/>, which <see cref="TenantRouteFilter"/> answers before the handler runs, so a handler
/// only ever sees valid requests.
/// </summary>
internal interface ITenantApiRequest
{
    /// <summary>Why the body was refused (400, 413 or 415), or <see langword="null"/>.</summary>
    ProblemHttpResult? Problem { get; }
}

/// <summary>The body of <c>POST {prefix}</c>: <c>{"business_id":"tenant1"}</c>.</summary>
internal sealed class StartTenantRequest : ITenantApiRequest, IBindableFromHttpContext<StartTenantRequest>
{
    private static readonly StrictJsonBodyShape Shape = new("""{"business_id":"tenant1"}""", ["business_id"]);

    /// <summary>The id of the tenant to start (1 to 64 characters: a letter or digit first, then letters, digits, '.', '_', '-').</summary>
    [JsonPropertyName("business_id")]
    public required string BusinessId { get; init; }

    /// <summary>The parsed <see cref="BusinessId"/>.</summary>
    [JsonIgnore]
    public TenantId Tenant { get; private init; }

    /// <inheritdoc/>
    [JsonIgnore]
    public ProblemHttpResult? Problem { get; private init; }

    public static async ValueTask<StartTenantRequest?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        var body = await StrictJsonBody.ReadAsync(context, Shape, TenantApiRequestOptions.Get(context).MaxRequestBodySize).ConfigureAwait(false);
        if (body.Problem is { } problem)
        {
            return new StartTenantRequest { BusinessId = string.Empty, Problem = problem };
        }

        string businessId = body.GetString("business_id")!;
        if (TenantId.Validate(businessId) is { } invalid)
        {
            return new StartTenantRequest { BusinessId = businessId, Problem = TypedProblems.Problem(context, StatusCodes.Status400BadRequest, invalid) };
        }

        return new StartTenantRequest { BusinessId = businessId, Tenant = TenantId.Parse(businessId) };
    }
}

/// <summary>
/// The body of <c>POST {prefix}/{business_id}/messages</c>: the WhatsApp Cloud API's message object, <c>{"to":"15551234567",
/// "type":"image","image":{"link":"https://…"}}</c> (any kind of <see cref="MessageContent"/>, an optional
/// <c>"context":{"message_id":"…"}</c> for a reply), or the short form <c>{"to":"15551234567","text":"hi"}</c>. Read with
/// <see cref="StrictJsonBody"/>'s media type and size rules and Core's one reader of the message object,
/// <see cref="OutboundMessageJson.ParseStrict"/> (unknown and repeated members refused by name); then the API's own rules: the recipient
/// (<see cref="MessageRules.ValidateRecipient"/>) and a text's length (<see cref="TenantApiOptions.MaxMessageLength"/>, no NUL). The
/// backend's kinds and limits are checked by the coordinator before any client is involved (<see cref="ITenantClientMessageKinds"/>).
/// </summary>
internal sealed class SendMessageRequest : ITenantApiRequest, IBindableFromHttpContext<SendMessageRequest>
{
    /// <summary>The example quoted when the body is empty.</summary>
    public const string Example = """{"to":"15551234567","type":"text","text":{"body":"hi"}}""";

    /// <summary>The message to send; <see langword="null"/> when <see cref="Problem"/> is set.</summary>
    public OutboundMessage? Message { get; private init; }

    /// <inheritdoc/>
    public ProblemHttpResult? Problem { get; private init; }

    /// <summary>The message to send.</summary>
    public OutboundMessage ToMessage() => Message ?? throw new InvalidOperationException("The request was refused: " + Problem?.ProblemDetails.Detail);

    public static async ValueTask<SendMessageRequest?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        var options = TenantApiRequestOptions.Get(context);
        var (body, start, problem) = await StrictJsonBody.ReadDocumentAsync(context, Example, options.MaxRequestBodySize).ConfigureAwait(false);
        if (problem is not null)
        {
            return new SendMessageRequest { Problem = problem };
        }

        OutboundMessage message;
        using (body)
        {
            try
            {
                message = OutboundMessageJson.ParseStrict(body!.Span[start..]);
            }
            catch (InvalidMessageException ex)
            {
                return Invalid(context, ex.Message);
            }
        }

        string? invalid = MessageRules.ValidateRecipient(message.To)
            ?? (message.Content is TextContent text ? MessageRules.ValidateText(text.Body, options.MaxMessageLength) : null);
        return invalid is null ? new SendMessageRequest { Message = message } : Invalid(context, invalid);
    }

    private static SendMessageRequest Invalid(HttpContext context, string detail) =>
        new() { Problem = TypedProblems.Problem(context, StatusCodes.Status400BadRequest, detail, MessageRules.InvalidMessageCode) };
}

/// <summary>The API options a request body is read with: the validated ones from DI, or the defaults.</summary>
internal static class TenantApiRequestOptions
{
    private static readonly TenantApiOptions Defaults = new();

    public static TenantApiOptions Get(HttpContext context) =>
        context.RequestServices.GetService<IOptions<TenantApiOptions>>()?.Value ?? Defaults;
}
