using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using MultiTenant.AspNetCore.Security;

namespace MultiTenant.CloudApi.Endpoints;

/// <summary>
/// Adds media to the tenant API's protected group (registered by <c>UseCloudApi()</c>):
/// <c>POST {prefix}/{business_id}/media</c> (the file as the raw body with its MIME type, or <c>multipart/form-data</c> with a
/// <c>file</c> part as Meta's own upload takes it) → 200 <c>{"id":"…"}</c>; 400, 404 no credentials, 413 too large for its kind,
/// 415 unsupported type, 502/503 Graph refused or failed. <c>GET {prefix}/{business_id}/media/{media_id}</c> → 200 with the bytes
/// and their content type, or with <c>?store=true</c> 200 <c>{"id","name","mime_type","file_size","sha256"}</c> once the file is in
/// the <see cref="MultiTenant.Media.IMediaStore"/>; 404 no such media. Both stream; the group's API key and tenant scope apply.
/// </summary>
internal sealed class MediaEndpointContributor : ITenantApiEndpointContributor
{
    public void MapEndpoints(RouteGroupBuilder tenants)
    {
        tenants.MapPost("/{business_id}/media", (RequestDelegate)MediaEndpoints.UploadAsync).WithName("UploadCloudApiMedia");
        tenants.MapGet("/{business_id}/media/{media_id}", (RequestDelegate)MediaEndpoints.DownloadAsync).WithName("DownloadCloudApiMedia");
    }
}
