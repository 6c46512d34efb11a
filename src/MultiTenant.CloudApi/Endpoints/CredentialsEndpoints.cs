using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using MultiTenant.AspNetCore.Http;
using MultiTenant.CloudApi.Diagnostics;

namespace MultiTenant.CloudApi.Endpoints;

/// <summary>
/// <c>PUT|GET|DELETE {prefix}/{business_id}/cloud-api/credentials</c>. The token goes in, never out: GET returns the non-secret
/// fields only, and nothing the client sent is ever repeated in an error.
/// </summary>
internal static class CredentialsEndpoints
{
    public const int MaxBodySize = 16 * 1024;
    private const string Example = "{\"phone_number_id\":\"106540352242922\",\"access_token\":\"EAAG…\",\"waba_id\":\"102290129340398\"}";

    public static async Task PutAsync(HttpContext context)
    {
        if (!TryGetTenant(context, out var tenant, out var invalid))
        {
            await invalid.ConfigureAwait(false);
            return;
        }

        if (!IsJson(context.Request.ContentType))
        {
            await ProblemAsync(context, StatusCodes.Status415UnsupportedMediaType, "The request body must be JSON: send 'Content-Type: application/json'.").ConfigureAwait(false);
            return;
        }

        BoundedRequestBody body;
        try
        {
            body = await BoundedRequestBody.ReadAsync(context, MaxBodySize).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await ProblemAsync(context, StatusCodes.Status413PayloadTooLarge, $"The request body must be at most {MaxBodySize} bytes.").ConfigureAwait(false);
            return;
        }
        catch (BadHttpRequestException)
        {
            await ProblemAsync(context, StatusCodes.Status400BadRequest, "The request body could not be read.").ConfigureAwait(false);
            return;
        }

        CredentialsRequest? request;
        using (body)
        {
            try
            {
                request = JsonSerializer.Deserialize(body.Span, CloudApiJsonContext.Default.CredentialsRequest);
            }
            catch (JsonException)
            {
                request = null;
            }
        }

        if (request is null)
        {
            await ProblemAsync(context, StatusCodes.Status400BadRequest, "The body must be a JSON object with exactly these members: " + Example + " (waba_id is optional).").ConfigureAwait(false);
            return;
        }

        string? problem = CloudApiCredentials.Validate(request.PhoneNumberId, request.AccessToken, request.WabaId);
        if (problem is not null)
        {
            await ProblemAsync(context, StatusCodes.Status400BadRequest, problem).ConfigureAwait(false);
            return;
        }

        var credentials = new CloudApiCredentials(request.PhoneNumberId!, request.AccessToken!, request.WabaId);
        var store = context.RequestServices.GetRequiredService<ICloudApiCredentialStore>();
        try
        {
            await store.SetAsync(tenant, credentials, context.RequestAborted).ConfigureAwait(false);
        }
        catch (CloudApiPhoneNumberInUseException ex)
        {
            await ProblemAsync(context, StatusCodes.Status409Conflict, ex.Message).ConfigureAwait(false);
            return;
        }

        Log.CredentialsSet(Logger(context), tenant.Value, credentials.PhoneNumberId);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    public static async Task GetAsync(HttpContext context)
    {
        if (!TryGetTenant(context, out var tenant, out var invalid))
        {
            await invalid.ConfigureAwait(false);
            return;
        }

        var store = context.RequestServices.GetRequiredService<ICloudApiCredentialStore>();
        (CloudApiCredentials Credentials, DateTimeOffset UpdatedAt)? found;
        try
        {
            found = store is CloudApiCredentialStore own
                ? await own.GetWithTimestampAsync(tenant, context.RequestAborted).ConfigureAwait(false)
                : await store.GetAsync(tenant, context.RequestAborted).ConfigureAwait(false) is { } other ? (other, default) : null;
        }
        catch (InvalidDataException ex)
        {
            await ProblemAsync(context, StatusCodes.Status500InternalServerError, ex.Message).ConfigureAwait(false);
            return;
        }

        if (found is not { } value)
        {
            await ProblemAsync(context, StatusCodes.Status404NotFound, $"Tenant {tenant.Value} has no Cloud API credentials.").ConfigureAwait(false);
            return;
        }

        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsJsonAsync(
            new CredentialsResponse
            {
                BusinessId = tenant.Value,
                PhoneNumberId = value.Credentials.PhoneNumberId,
                WabaId = value.Credentials.BusinessAccountId,
                HasAccessToken = true,
                UpdatedAt = value.UpdatedAt,
            },
            CloudApiJsonContext.Default.CredentialsResponse,
            contentType: null,
            context.RequestAborted).ConfigureAwait(false);
    }

    public static async Task DeleteAsync(HttpContext context)
    {
        if (!TryGetTenant(context, out var tenant, out var invalid))
        {
            await invalid.ConfigureAwait(false);
            return;
        }

        var store = context.RequestServices.GetRequiredService<ICloudApiCredentialStore>();
        if (!await store.DeleteAsync(tenant, context.RequestAborted).ConfigureAwait(false))
        {
            await ProblemAsync(context, StatusCodes.Status404NotFound, $"Tenant {tenant.Value} has no Cloud API credentials.").ConfigureAwait(false);
            return;
        }

        Log.CredentialsDeleted(Logger(context), tenant.Value);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static bool TryGetTenant(HttpContext context, out TenantId tenant, out Task invalid)
    {
        string? raw = context.Request.RouteValues["business_id"] as string;
        if (TenantId.TryParse(raw, out tenant))
        {
            invalid = Task.CompletedTask;
            return true;
        }

        invalid = ProblemAsync(context, StatusCodes.Status400BadRequest, "Invalid business_id: " + (TenantId.Validate(raw) ?? "it is not valid."));
        return false;
    }

    private static bool IsJson(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var mediaType))
        {
            return false;
        }

        var type = mediaType.MediaType;
        bool json = type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (type.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
        var charset = mediaType.Charset;
        return json && (!charset.HasValue || charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase));
    }

    private static Task ProblemAsync(HttpContext context, int statusCode, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: statusCode, title: ReasonPhrases.GetReasonPhrase(statusCode)).ExecuteAsync(context);

    private static ILogger Logger(HttpContext context) =>
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("MultiTenant.CloudApi.Credentials");
}
