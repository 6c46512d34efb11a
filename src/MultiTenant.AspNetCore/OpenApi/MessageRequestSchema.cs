using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.OpenApi;

namespace MultiTenant.AspNetCore.OpenApi;

/// <summary>
/// The OpenAPI schema of the body of <c>POST {prefix}/{business_id}/messages</c>: one of the short text form and the WhatsApp Cloud
/// API message object per kind (<c>type</c> names the kind and the member that carries it), as <c>OutboundMessageJson.ParseStrict</c>
/// reads it. Written out because the body is read by that reader, not bound from a .NET type whose schema the framework could derive.
/// Limits shown are the API's and the Cloud API's documented ones; a backend may have others.
/// </summary>
internal static class MessageRequestSchema
{
    /// <summary>Declares the message object as the endpoint's required <c>application/json</c> body.</summary>
    public static RouteHandlerBuilder WithMessageRequestBody(this RouteHandlerBuilder builder) =>
        builder.AddOpenApiOperationTransformer(static (operation, context, cancellationToken) =>
        {
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Description = "A message: the WhatsApp Cloud API message object ('type' and the object it names), or {\"to\",\"text\"} for text.",
                Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal) { ["application/json"] = new OpenApiMediaType { Schema = Build() } },
            };
            return Task.CompletedTask;
        });

    /// <summary>The schema: <c>oneOf</c> the short form and one message object per kind.</summary>
    public static OpenApiSchema Build()
    {
        var media = Object(["id", "link"], null,
            ("id", Text("The id an upload (POST /api/tenants/{business_id}/media) returned; give id or link.")),
            ("link", Text("A public http(s) URL WhatsApp downloads the file from; give id or link.")),
            ("caption", Text("Images, documents and videos only; at most 1,024 characters.", max: 1024)),
            ("filename", Text("Documents only: the file name shown.")));
        var textBody = Object(["body"], null,
            ("body", Text("The text: 1 to 4,096 characters, no NUL.", 1, 4096)),
            ("preview_url", new OpenApiSchema { Type = JsonSchemaType.Boolean, Description = "Render a preview of the first URL. Default false." }));
        var parameter = Object(["type"], "A value of a template variable: 'type' names the member that carries it.",
            ("type", Enum("text", "payload", "coupon_code", "currency", "date_time", "image", "document", "video")),
            ("parameter_name", Text("For a named variable ({{first_name}}): its name.")),
            ("text", Text(null)), ("payload", Text(null)), ("coupon_code", Text(null)),
            ("currency", Object(["fallback_value", "code", "amount_1000"], null, ("fallback_value", Text(null)), ("code", Text("ISO 4217.")),
                ("amount_1000", new OpenApiSchema { Type = JsonSchemaType.Integer, Description = "The amount times 1,000." }))),
            ("date_time", Object(["fallback_value"], null, ("fallback_value", Text(null)))),
            ("image", Object([], null, ("id", Text(null)), ("link", Text(null)))),
            ("video", Object([], null, ("id", Text(null)), ("link", Text(null)))),
            ("document", Object([], null, ("id", Text(null)), ("link", Text(null)), ("filename", Text(null)))));
        var template = Object(["name", "language"], null,
            ("name", Text("The approved template's name.", 1, 512)),
            ("language", Object(["code"], null, ("code", Text("For example en_US.", 2, 16)))),
            ("components", Array(Object(["type"], null,
                ("type", Enum("header", "body", "button")),
                ("sub_type", Text("Buttons: quick_reply, url or copy_code.")),
                ("index", Text("Buttons: the position, \"0\" to \"9\".")),
                ("parameters", Array(parameter, null))), null)));
        var frame = new (string, OpenApiSchema)[]
        {
            ("header", Object(["type", "text"], null, ("type", Enum("text")), ("text", Text(null, 1, 60)))),
            ("body", Object(["text"], null, ("text", Text("At most 1,024 characters (buttons) or 4,096 (lists).", 1, 4096)))),
            ("footer", Object(["text"], null, ("text", Text(null, 1, 60)))),
        };
        var buttons = Object(["type", "body", "action"], "Reply buttons.",
            [("type", Enum("button")), .. frame, ("action", Object(["buttons"], null, ("buttons", Array(Object(["type", "reply"], null,
                ("type", Enum("reply")),
                ("reply", Object(["id", "title"], null, ("id", Text(null, 1, 256)), ("title", Text("Unique.", 1, 20))))), 1, 3))))]);
        var list = Object(["type", "body", "action"], "A list of choices in sections.",
            [("type", Enum("list")), .. frame, ("action", Object(["button", "sections"], null,
                ("button", Text("The label of the button that opens the list.", 1, 20)),
                ("sections", Array(Object(["rows"], null,
                    ("title", Text("Required when there are several sections.", 1, 24)),
                    ("rows", Array(Object(["id", "title"], null, ("id", Text("Unique in the list.", 1, 200)), ("title", Text(null, 1, 24)),
                        ("description", Text(null, max: 72))), 1, 10))), 1, 10))))]);
        var contact = Object(["name"], null,
            ("name", Object(["formatted_name"], null, ("formatted_name", Text(null, 1)), ("first_name", Text(null)), ("last_name", Text(null)))),
            ("birthday", Text("YYYY-MM-DD.")),
            ("org", Object([], null, ("company", Text(null)))),
            ("phones", Array(Object(["phone"], null, ("phone", Text(null)), ("type", Text(null)), ("wa_id", Text(null))), null)),
            ("emails", Array(Object(["email"], null, ("email", Text(null)), ("type", Text(null))), null)),
            ("urls", Array(Object(["url"], null, ("url", Text(null)), ("type", Text(null))), null)));

        var schema = new OpenApiSchema
        {
            Description = "One message. Unknown or repeated members are refused (400); 'messaging_product' and 'recipient_type' of Meta's object are accepted.",
            OneOf =
            [
                Object(["to", "text"], "Text, short form.", ("to", Recipient()), ("text", Text("The text: 1 to 4,096 characters, no NUL.", 1, 4096))),
                Kind("text", textBody),
                Kind("template", template),
                Kind("image", media), Kind("document", media), Kind("audio", media), Kind("video", media), Kind("sticker", media),
                Kind("location", Object(["latitude", "longitude"], null,
                    ("latitude", new OpenApiSchema { Type = JsonSchemaType.Number, Minimum = "-90", Maximum = "90" }),
                    ("longitude", new OpenApiSchema { Type = JsonSchemaType.Number, Minimum = "-180", Maximum = "180" }),
                    ("name", Text(null)), ("address", Text(null)))),
                Kind("contacts", Array(contact, 1, null)),
                Kind("reaction", Object(["message_id", "emoji"], null, ("message_id", Text("The message reacted to.", 1)), ("emoji", Text("One emoji; empty removes the reaction.")))),
                Kind("interactive", new OpenApiSchema { OneOf = [buttons, list] }),
            ],
        };
        return schema;
    }

    private static OpenApiSchema Kind(string kind, OpenApiSchema body) =>
        Object(["to", "type", kind], "A message of type " + kind + ".",
            ("messaging_product", Enum("whatsapp")),
            ("recipient_type", Enum("individual")),
            ("to", Recipient()),
            ("context", Object(["message_id"], "Makes the message a reply.", ("message_id", Text("The id of the message replied to.", 1)))),
            ("type", Enum(kind)),
            (kind, body));

    private static OpenApiSchema Recipient() =>
        Text("A phone number in international format without '+' (1 to 32 digits) or a WhatsApp JID such as 15551234567@s.whatsapp.net.", 1, 128);

    private static OpenApiSchema Object(string[] required, string? description, params (string Name, OpenApiSchema Schema)[] properties)
    {
        var schema = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = description,
            AdditionalPropertiesAllowed = false,
            Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal),
        };
        foreach (var (name, value) in properties)
        {
            schema.Properties[name] = value;
        }

        if (required.Length > 0)
        {
            schema.Required = new HashSet<string>(required, StringComparer.Ordinal);
        }

        return schema;
    }

    private static OpenApiSchema Array(OpenApiSchema items, int? min, int? max = null) =>
        new() { Type = JsonSchemaType.Array, Items = items, MinItems = min, MaxItems = max };

    private static OpenApiSchema Text(string? description, int? min = null, int? max = null) =>
        new() { Type = JsonSchemaType.String, Description = description, MinLength = min, MaxLength = max };

    private static OpenApiSchema Enum(params string[] values)
    {
        var schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [] };
        foreach (string value in values)
        {
            schema.Enum.Add(JsonValue.Create(value));
        }

        return schema;
    }
}
