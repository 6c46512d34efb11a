using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Security;
using MultiTenant.AspNetCore.Tests.Infrastructure;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>The OpenAPI document of the tenant API (AddTenantApiOpenApi + MapOpenApi), read the way a client generator reads it.</summary>
public sealed class OpenApiTests
{
    [Fact]
    public async Task The_document_is_served_without_a_key_and_lists_every_mapped_api_endpoint_with_both_key_schemes()
    {
        await using var app = await StartAsync();

        using var document = await GetDocumentAsync(app);

        var root = document.RootElement;
        Assert.StartsWith("3.", root.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var schemes = root.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("http", schemes.GetProperty("Bearer").GetProperty("type").GetString());
        Assert.Equal("bearer", schemes.GetProperty("Bearer").GetProperty("scheme").GetString());
        Assert.Equal("apiKey", schemes.GetProperty("ApiKey").GetProperty("type").GetString());
        Assert.Equal("header", schemes.GetProperty("ApiKey").GetProperty("in").GetString());
        Assert.Equal("X-Api-Key", schemes.GetProperty("ApiKey").GetProperty("name").GetString());

        var mapped = ApiOperations(app);
        Assert.Contains(("POST", "/api/tenants"), mapped);
        Assert.Contains(("POST", "/api/tenants/{business_id}/messages"), mapped);
        Assert.Contains(("GET", "/api/tenants/{business_id}/hello"), mapped); // contributed
        var paths = root.GetProperty("paths");
        foreach (var (method, path) in mapped)
        {
            Assert.True(paths.TryGetProperty(path, out var item), $"The document has no path {path}.");
            Assert.True(item.TryGetProperty(method.ToLowerInvariant(), out var operation), $"The document has no {method} {path}.");
            string[] security = [.. operation.GetProperty("security").EnumerateArray().SelectMany(r => r.EnumerateObject().Select(p => p.Name))];
            Assert.Equal(["Bearer", "ApiKey"], security);
            Assert.True(operation.GetProperty("responses").TryGetProperty("401", out _), $"{method} {path} does not declare 401.");
        }

        int documented = paths.EnumerateObject().Where(p => p.Name.StartsWith("/api/", StringComparison.Ordinal)).Sum(p => p.Value.EnumerateObject().Count());
        Assert.Equal(mapped.Count, documented);
    }

    [Fact]
    public async Task Request_and_response_bodies_have_real_schemas_and_errors_are_problem_details()
    {
        await using var app = await StartAsync();

        using var document = await GetDocumentAsync(app);

        var root = document.RootElement;
        var start = root.GetProperty("paths").GetProperty("/api/tenants").GetProperty("post");
        var startBody = Schema(root, start.GetProperty("requestBody").GetProperty("content").GetProperty("application/json"));
        Assert.Equal(["business_id"], Names(startBody.GetProperty("required")));
        Assert.Equal("string", startBody.GetProperty("properties").GetProperty("business_id").GetProperty("type").GetString());
        Assert.True(start.GetProperty("requestBody").GetProperty("required").GetBoolean());
        var started = Schema(root, start.GetProperty("responses").GetProperty("201").GetProperty("content").GetProperty("application/json"));
        Assert.Equal(["business_id", "status"], Names(started.GetProperty("properties")).Order(StringComparer.Ordinal));

        var send = root.GetProperty("paths").GetProperty("/api/tenants/{business_id}/messages").GetProperty("post");
        var sendBody = Schema(root, send.GetProperty("requestBody").GetProperty("content").GetProperty("application/json"));
        // One of: the short text form, then Meta's message object per kind, each naming its kind in 'type' and the object it carries.
        var forms = sendBody.GetProperty("oneOf").EnumerateArray().Select(f => Resolve(root, f)).ToList();
        Assert.Equal(["text", "to"], Names(forms[0].GetProperty("required")).Order(StringComparer.Ordinal));
        string[] kinds = [.. forms.Skip(1).Select(f => f.GetProperty("properties").GetProperty("type").GetProperty("enum")[0].GetString()!)];
        Assert.Equal(["text", "template", "image", "document", "audio", "video", "sticker", "location", "contacts", "reaction", "interactive"], kinds);
        foreach (var (form, kind) in forms.Skip(1).Zip(kinds))
        {
            Assert.Equal(["to", "type", kind], Names(form.GetProperty("required")));
            Assert.False(form.GetProperty("additionalProperties").GetBoolean());
            Assert.Equal("message_id", Names(form.GetProperty("properties").GetProperty("context").GetProperty("required")).Single());
        }

        var buttons = forms[^1].GetProperty("properties").GetProperty("interactive").GetProperty("oneOf")[0].GetProperty("properties")
            .GetProperty("action").GetProperty("properties").GetProperty("buttons");
        Assert.Equal(3, buttons.GetProperty("maxItems").GetInt32());
        Assert.Equal(20, buttons.GetProperty("items").GetProperty("properties").GetProperty("reply").GetProperty("properties").GetProperty("title").GetProperty("maxLength").GetInt32());
        Assert.True(send.GetProperty("responses").TryGetProperty("422", out _));
        var accepted = Schema(root, send.GetProperty("responses").GetProperty("202").GetProperty("content").GetProperty("application/json"));
        Assert.Equal(["message_id"], Names(accepted.GetProperty("properties")));
        var id = Assert.Single(send.GetProperty("parameters").EnumerateArray());
        Assert.Equal("business_id", id.GetProperty("name").GetString());
        var idSchema = Schema(root, id);
        Assert.Equal("string", idSchema.GetProperty("type").GetString());
        Assert.Equal(64, idSchema.GetProperty("maxLength").GetInt32());

        var list = root.GetProperty("paths").GetProperty("/api/tenants").GetProperty("get");
        var array = list.GetProperty("responses").GetProperty("200").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        Assert.Equal("array", array.GetProperty("type").GetString());
        var status = Resolve(root, array.GetProperty("items"));
        Assert.Superset(new HashSet<string> { "business_id", "status", "updated_at", "started_at", "error" }, Names(status.GetProperty("properties")).ToHashSet());

        int problems = 0;
        foreach (var path in root.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                foreach (var response in operation.Value.GetProperty("responses").EnumerateObject().Where(r => r.Name[0] is '4' or '5'))
                {
                    var problem = Schema(root, response.Value.GetProperty("content").GetProperty("application/problem+json"));
                    Assert.Superset(new HashSet<string> { "type", "title", "status", "detail" }, Names(problem.GetProperty("properties")).ToHashSet());
                    problems++;
                }
            }
        }

        Assert.True(problems > 20, $"Only {problems} error responses are documented.");
    }

    private static Task<TestApp> StartAsync() => TestApp.StartAsync(
        static b => b.Services.AddSingleton<ITenantApiEndpointContributor>(new HelloContributor()).AddWhatsAppTenants().AddTenantApiOpenApi(),
        static app =>
        {
            app.MapTenantApi();
            app.MapTenantHealthChecks();
            app.MapOpenApi();
        });

    private static async Task<JsonDocument> GetDocumentAsync(TestApp app)
    {
        using var response = await app.Anonymous.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>Every (method, path) under <c>/api/</c> from the app's endpoint data source, as OpenAPI spells paths.</summary>
    private static List<(string Method, string Path)> ApiOperations(TestApp app)
    {
        var operations = new List<(string, string)>();
        foreach (var endpoint in app.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            string pattern = "/" + (endpoint.RoutePattern.RawText ?? string.Empty).Trim('/');
            if (pattern.StartsWith("/api/", StringComparison.Ordinal))
            {
                operations.AddRange((endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (m, pattern)));
            }
        }

        return operations;
    }

    private static JsonElement Schema(JsonElement root, JsonElement holder) => Resolve(root, holder.GetProperty("schema"));

    private static JsonElement Resolve(JsonElement root, JsonElement schema)
    {
        if (!schema.TryGetProperty("$ref", out var reference))
        {
            return schema;
        }

        string name = reference.GetString()!["#/components/schemas/".Length..];
        return root.GetProperty("components").GetProperty("schemas").GetProperty(name);
    }

    private static string[] Names(JsonElement element) => element.ValueKind == JsonValueKind.Array
        ? [.. element.EnumerateArray().Select(e => e.GetString()!)]
        : [.. element.EnumerateObject().Select(p => p.Name)];

    private sealed class HelloContributor : ITenantApiEndpointContributor
    {
        public void MapEndpoints(RouteGroupBuilder tenants) =>
            tenants.MapGet("/{business_id}/hello", static ([FromRoute(Name = "business_id")] TenantId tenant) => TypedResults.Ok(tenant.Value));
    }
}
