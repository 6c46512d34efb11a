using System.Reflection;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Http;
using MultiTenant.AspNetCore.Security;
using MultiTenant.Storage;
using MultiTenant.Wuzapi.Users;

namespace MultiTenant.Wuzapi.Endpoints;

/// <summary>
/// Pairing by phone code instead of a QR code, inside the tenant API's protected group (registered by <c>UseWuzapi()</c>):
/// <c>PUT {prefix}/{business_id}/wuzapi/pair-phone</c> with <c>{"phone":"5491155554444"}</c> (digits, international format without
/// <c>+</c>) → 204: while the tenant waits to pair, its client asks the engine for a linking code (<c>POST /session/pairphone</c>) and
/// shows it on the pairing board (the dashboard) instead of the QR code; type it into WhatsApp on that phone (Linked devices → Link
/// with phone number). <c>DELETE</c> → 204 (back to QR codes). Stored in the tenant's state store, so any host may take the call.
/// </summary>
internal sealed class PairPhoneEndpointContributor : ITenantApiEndpointContributor
{
    public void MapEndpoints(RouteGroupBuilder tenants)
    {
        var group = tenants.MapGroup("/{business_id}/wuzapi");
        group.MapPut("/pair-phone", PutAsync)
            .WithName("PutWuzapiPairPhone")
            .WithJsonRequestBody<PairPhoneBody>()
            .WithSummary("Pairs the tenant's WhatsApp Web session by a code for this phone number instead of a QR code.")
            .WithTags("wuzapi")
            .WithMetadata(Problems(400, 403, 413, 415));
        group.MapDelete("/pair-phone", DeleteAsync)
            .WithName("DeleteWuzapiPairPhone")
            .WithSummary("Pairs the tenant by QR code again.")
            .WithTags("wuzapi")
            .WithMetadata(Problems(400, 403));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> PutAsync([FromRoute(Name = "business_id")] TenantId tenant, PairPhoneBody body, HttpContext context)
    {
        if (body.Problem is { } refused)
        {
            return refused;
        }

        if (body.Phone is not { Length: >= 6 and <= 20 } phone || !phone.All(char.IsAsciiDigit))
        {
            return TypedResults.Problem(detail: "phone must be 6 to 20 digits, in international format without '+'.", statusCode: 400, title: ReasonPhrases.GetReasonPhrase(400));
        }

        var store = context.RequestServices.GetRequiredService<ITenantStateStoreProvider>().GetStore(tenant);
        await store.SetAsync(EngineUserStorage.Namespace, EngineUserStorage.PairPhoneKey, Encoding.UTF8.GetBytes(phone), context.RequestAborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    private static async Task<NoContent> DeleteAsync([FromRoute(Name = "business_id")] TenantId tenant, HttpContext context)
    {
        var store = context.RequestServices.GetRequiredService<ITenantStateStoreProvider>().GetStore(tenant);
        await store.DeleteAsync(EngineUserStorage.Namespace, EngineUserStorage.PairPhoneKey, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    private static object[] Problems(params int[] statusCodes) =>
        [.. statusCodes.Select(static code => new ProducesResponseTypeMetadata(code, typeof(ProblemDetails), ["application/problem+json"]))];
}

/// <summary><c>PUT …/wuzapi/pair-phone</c> body <c>{"phone":"…"}</c>, read with <see cref="StrictJsonBody"/>.</summary>
internal sealed class PairPhoneBody : IBindableFromHttpContext<PairPhoneBody>
{
    private static readonly StrictJsonBodyShape Shape = new("""{"phone":"5491155554444"}""", ["phone"], []);

    public string? Phone { get; init; }

    public ProblemHttpResult? Problem { get; init; }

    public static async ValueTask<PairPhoneBody?> BindAsync(HttpContext context, ParameterInfo parameter)
    {
        var body = await StrictJsonBody.ReadAsync(context, Shape, 1024).ConfigureAwait(false);
        return body.Problem is { } problem ? new PairPhoneBody { Problem = problem } : new PairPhoneBody { Phone = body.GetString("phone") };
    }
}
