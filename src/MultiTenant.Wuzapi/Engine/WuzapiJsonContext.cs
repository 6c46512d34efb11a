using System.Text.Json.Serialization;
using MultiTenant.Wuzapi.Users;

namespace MultiTenant.Wuzapi.Engine;

/// <summary>
/// System.Text.Json source generation for the documents the package writes: engine requests (wuzapi's own member names, set with
/// <see cref="JsonPropertyNameAttribute"/>) and the stored engine user record. Responses are read with <see cref="System.Text.Json.JsonDocument"/>.
/// </summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AddUserRequest))]
[JsonSerializable(typeof(ConnectRequest))]
[JsonSerializable(typeof(HmacConfigRequest))]
[JsonSerializable(typeof(PairPhoneRequest))]
[JsonSerializable(typeof(SendTextRequest))]
[JsonSerializable(typeof(SendMediaRequest))]
[JsonSerializable(typeof(SendLocationRequest))]
[JsonSerializable(typeof(SendContactRequest))]
[JsonSerializable(typeof(ReactRequest))]
[JsonSerializable(typeof(StoredEngineUser))]
[JsonSerializable(typeof(StoredEngineSecrets))]
internal sealed partial class WuzapiJsonContext : JsonSerializerContext
{
}

/// <summary><c>POST /admin/users</c>.</summary>
internal sealed record AddUserRequest(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("token")] string Token,
    [property: JsonPropertyName("webhook")] string Webhook,
    [property: JsonPropertyName("expiration")] int Expiration,
    [property: JsonPropertyName("events")] string Events);

/// <summary><c>POST /session/connect</c>.</summary>
internal sealed record ConnectRequest(
    [property: JsonPropertyName("Subscribe")] IReadOnlyList<string> Subscribe,
    [property: JsonPropertyName("Immediate")] bool Immediate);

/// <summary><c>POST /session/hmac/config</c>.</summary>
internal sealed record HmacConfigRequest([property: JsonPropertyName("hmac_key")] string HmacKey);

/// <summary><c>POST /session/pairphone</c>.</summary>
internal sealed record PairPhoneRequest([property: JsonPropertyName("Phone")] string Phone);

/// <summary>The quoted message of a reply (<c>ContextInfo</c>).</summary>
internal sealed record ContextInfo(
    [property: JsonPropertyName("StanzaId")] string StanzaId,
    [property: JsonPropertyName("Participant")] string Participant);

/// <summary><c>POST /chat/send/text</c>.</summary>
internal sealed record SendTextRequest(
    [property: JsonPropertyName("Phone")] string Phone,
    [property: JsonPropertyName("Body")] string Body,
    [property: JsonPropertyName("Id")] string? Id,
    [property: JsonPropertyName("ContextInfo")] ContextInfo? ContextInfo);

/// <summary>
/// <c>POST /chat/send/{image|audio|document|video|sticker}</c>: the file (a <c>data:</c> URL) goes in the member named after the kind
/// (<c>Image</c>, <c>Audio</c>, …), written by <see cref="WuzapiEngineApi"/> with the kind's member name.
/// </summary>
internal sealed record SendMediaRequest(
    [property: JsonPropertyName("Phone")] string Phone,
    [property: JsonPropertyName("Image")] string? Image,
    [property: JsonPropertyName("Audio")] string? Audio,
    [property: JsonPropertyName("Document")] string? Document,
    [property: JsonPropertyName("Video")] string? Video,
    [property: JsonPropertyName("Sticker")] string? Sticker,
    [property: JsonPropertyName("Caption")] string? Caption,
    [property: JsonPropertyName("FileName")] string? FileName,
    [property: JsonPropertyName("Id")] string? Id,
    [property: JsonPropertyName("ContextInfo")] ContextInfo? ContextInfo);

/// <summary><c>POST /chat/send/location</c>.</summary>
internal sealed record SendLocationRequest(
    [property: JsonPropertyName("Phone")] string Phone,
    [property: JsonPropertyName("Latitude")] double Latitude,
    [property: JsonPropertyName("Longitude")] double Longitude,
    [property: JsonPropertyName("Name")] string? Name,
    [property: JsonPropertyName("Id")] string? Id);

/// <summary><c>POST /chat/send/contact</c>.</summary>
internal sealed record SendContactRequest(
    [property: JsonPropertyName("Phone")] string Phone,
    [property: JsonPropertyName("Name")] string Name,
    [property: JsonPropertyName("Vcard")] string Vcard,
    [property: JsonPropertyName("Id")] string? Id);

/// <summary><c>POST /chat/react</c>.</summary>
internal sealed record ReactRequest(
    [property: JsonPropertyName("Phone")] string Phone,
    [property: JsonPropertyName("Body")] string Body,
    [property: JsonPropertyName("Id")] string Id);
