using System.Text.Json.Serialization;
using MultiTenant.CloudApi.Graph;

namespace MultiTenant.CloudApi;

/// <summary>
/// System.Text.Json source generation for every document the package reads or writes: Graph API requests and responses, webhook
/// payloads and the stored credentials. Names are snake_case, as Meta's.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowReadingFromString,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SendMessageResponse))]
[JsonSerializable(typeof(SuccessResponse))]
[JsonSerializable(typeof(MediaUploadResponse))]
[JsonSerializable(typeof(MediaInfoResponse))]
[JsonSerializable(typeof(TemplatesResponse))]
[JsonSerializable(typeof(GraphErrorEnvelope))]
[JsonSerializable(typeof(PhoneNumberHealthResponse))]
[JsonSerializable(typeof(StoredCredentials))]
[JsonSerializable(typeof(StoredSecrets))]
[JsonSerializable(typeof(MultiTenant.CloudApi.Endpoints.MediaUploadedResponse))]
[JsonSerializable(typeof(MultiTenant.CloudApi.Endpoints.MediaStoredResponse))]
internal sealed partial class CloudApiJsonContext : JsonSerializerContext
{
}
