using System.Reflection;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using MultiTenant.AspNetCore.Http;

namespace MultiTenant.CloudApi.Endpoints;

/// <summary>
/// <c>PUT /api/tenants/{business_id}/cloud-api/credentials</c> body: <c>{"phone_number_id","access_token","waba_id"}</c>
/// (<c>waba_id</c> optional), read with <see cref="StrictJsonBody"/>: unknown or repeated members, a body over
/// <see cref="MaxBodySize"/> bytes or one that is not JSON are refused (<see cref="Problem"/>) without repeating what was sent.
/// </summary>
internal sealed class CredentialsRequest : IBindableFromHttpContext<CredentialsRequest>
{
    public const int MaxBodySize = 16 * 1024;

    private static readonly StrictJsonBodyShape Shape = new(
        """{"phone_number_id":"106540352242922","access_token":"EAAG…","waba_id":"102290129340398"}""",
        ["phone_number_id", "access_token"],
        ["waba_id"]);

    /// <summary>The Cloud API phone number id (digits).</summary>
    [JsonPropertyName("phone_number_id")]
    public string? PhoneNumberId { get; init; }

    /// <summary>The access token (a system user token); stored encrypted, never returned.</summary>
    [JsonPropertyName("access_token")]
    public string? AccessToken { get; init; }

    /// <summary>The WhatsApp Business Account id, optional.</summary>
    [JsonPropertyName("waba_id")]
    public string? WabaId { get; init; }

    /// <summary>Why the body was refused (400, 413, 415), or <see langword="null"/>.</summary>
    [JsonIgnore]
    public ProblemHttpResult? Problem { get; private init; }

    public static async ValueTask<CredentialsRequest?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        var body = await StrictJsonBody.ReadAsync(context, Shape, MaxBodySize).ConfigureAwait(false);
        return body.Problem is { } problem
            ? new CredentialsRequest { Problem = problem }
            : new CredentialsRequest
            {
                PhoneNumberId = body.GetString("phone_number_id"),
                AccessToken = body.GetString("access_token"),
                WabaId = body.GetString("waba_id"),
            };
    }
}

/// <summary>What <c>GET …/cloud-api/credentials</c> returns: the non-secret fields only, never the token.</summary>
internal sealed class CredentialsResponse
{
    [JsonPropertyName("business_id")]
    public string BusinessId { get; set; } = string.Empty;

    [JsonPropertyName("phone_number_id")]
    public string PhoneNumberId { get; set; } = string.Empty;

    [JsonPropertyName("waba_id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? WabaId { get; set; }

    [JsonPropertyName("has_access_token")]
    public bool HasAccessToken { get; set; }

    [JsonPropertyName("updated_at")]
    public DateTimeOffset UpdatedAt { get; set; }
}
