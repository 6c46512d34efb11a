using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MultiTenant.CloudApi.Diagnostics;

namespace MultiTenant.CloudApi.Endpoints;

/// <summary>
/// <c>PUT|GET|DELETE {prefix}/{business_id}/cloud-api/credentials</c>, typed handlers inside the tenant API's group (whose conventions
/// answer an invalid <c>business_id</c> 400 and an unexpected failure 500, both as problem details). The token goes in, never out: GET
/// returns the non-secret fields only, and nothing the client sent is ever repeated in an error.
/// </summary>
internal static class CredentialsEndpoints
{
    public const string BusinessIdRouteValue = "business_id";

    public static async Task<Results<NoContent, ProblemHttpResult>> PutAsync(
        [FromRoute(Name = BusinessIdRouteValue)] TenantId tenant, CredentialsRequest request, HttpContext context)
    {
        if (request.Problem is { } refused)
        {
            return refused;
        }

        string? problem = CloudApiCredentials.Validate(request.PhoneNumberId, request.AccessToken, request.WabaId);
        if (problem is not null)
        {
            return Problem(StatusCodes.Status400BadRequest, problem);
        }

        var credentials = new CloudApiCredentials(request.PhoneNumberId!, request.AccessToken!, request.WabaId);
        var store = context.RequestServices.GetRequiredService<ICloudApiCredentialStore>();
        try
        {
            await store.SetAsync(tenant, credentials, context.RequestAborted).ConfigureAwait(false);
        }
        catch (CloudApiPhoneNumberInUseException ex)
        {
            return Problem(StatusCodes.Status409Conflict, ex.Message);
        }

        Log.CredentialsSet(Logger(context), tenant.Value, credentials.PhoneNumberId);
        return TypedResults.NoContent();
    }

    public static async Task<Results<Ok<CredentialsResponse>, ProblemHttpResult>> GetAsync(
        [FromRoute(Name = BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
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
            // The store's own readable reason (the stored credentials cannot be decrypted or read), never an inner exception's text.
            return Problem(StatusCodes.Status500InternalServerError, ex.Message);
        }

        if (found is not { } value)
        {
            return Problem(StatusCodes.Status404NotFound, $"Tenant {tenant.Value} has no Cloud API credentials.");
        }

        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(new CredentialsResponse
        {
            BusinessId = tenant.Value,
            PhoneNumberId = value.Credentials.PhoneNumberId,
            WabaId = value.Credentials.BusinessAccountId,
            HasAccessToken = true,
            UpdatedAt = value.UpdatedAt,
        });
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        [FromRoute(Name = BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        var store = context.RequestServices.GetRequiredService<ICloudApiCredentialStore>();
        if (!await store.DeleteAsync(tenant, context.RequestAborted).ConfigureAwait(false))
        {
            return Problem(StatusCodes.Status404NotFound, $"Tenant {tenant.Value} has no Cloud API credentials.");
        }

        Log.CredentialsDeleted(Logger(context), tenant.Value);
        return TypedResults.NoContent();
    }

    private static ProblemHttpResult Problem(int statusCode, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: statusCode, title: ReasonPhrases.GetReasonPhrase(statusCode));

    private static ILogger Logger(HttpContext context) =>
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("MultiTenant.CloudApi.Credentials");
}
