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

/// <summary>The body of <c>POST {prefix}/{business_id}/messages</c>: <c>{"to":"15551234567","text":"hi"}</c>.</summary>
internal sealed class SendMessageRequest : ITenantApiRequest, IBindableFromHttpContext<SendMessageRequest>
{
    private static readonly StrictJsonBodyShape Shape = new("""{"to":"15551234567","text":"hi"}""", ["to", "text"]);

    /// <summary>
    /// The recipient: a phone number in international format without '+' (1 to 32 digits), or a WhatsApp JID such as
    /// <c>15551234567@s.whatsapp.net</c>; at most 128 characters.
    /// </summary>
    [JsonPropertyName("to")]
    public required string To { get; init; }

    /// <summary>The text: 1 to <see cref="TenantApiOptions.MaxMessageLength"/> characters, no NUL.</summary>
    [JsonPropertyName("text")]
    public required string Text { get; init; }

    /// <inheritdoc/>
    [JsonIgnore]
    public ProblemHttpResult? Problem { get; private init; }

    /// <summary>The message to send.</summary>
    public OutboundMessage ToMessage() => new(To, Text);

    public static async ValueTask<SendMessageRequest?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        var options = TenantApiRequestOptions.Get(context);
        var body = await StrictJsonBody.ReadAsync(context, Shape, options.MaxRequestBodySize).ConfigureAwait(false);
        if (body.Problem is { } problem)
        {
            return new SendMessageRequest { To = string.Empty, Text = string.Empty, Problem = problem };
        }

        string to = body.GetString("to")!;
        string text = body.GetString("text")!;
        if ((MessageRules.ValidateRecipient(to) ?? MessageRules.ValidateText(text, options.MaxMessageLength)) is { } invalid)
        {
            return new SendMessageRequest { To = to, Text = text, Problem = TypedProblems.Problem(context, StatusCodes.Status400BadRequest, invalid) };
        }

        return new SendMessageRequest { To = to, Text = text };
    }
}

/// <summary>The API options a request body is read with: the validated ones from DI, or the defaults.</summary>
internal static class TenantApiRequestOptions
{
    private static readonly TenantApiOptions Defaults = new();

    public static TenantApiOptions Get(HttpContext context) =>
        context.RequestServices.GetService<IOptions<TenantApiOptions>>()?.Value ?? Defaults;
}
