using System.Globalization;
using System.Text.Json;

namespace MultiTenant.Clients;

// The reader of the kinds with nested objects and arrays.
public static partial class OutboundMessageJson
{
    private static TemplateContent ReadTemplate(JsonElement body)
    {
        string name = RequiredString(body, "name", "template.name");
        string language = body.TryGetProperty("language", out var lang)
            ? RequiredString(Object(lang, "template.language"), "code", "template.language.code")
            : throw new InvalidMessageException("template.language", "'template.language' is required.");
        var components = new List<TemplateComponent>();
        if (body.TryGetProperty("components", out _))
        {
            int i = 0;
            foreach (var component in Array(body, "components", "template.components").EnumerateArray())
            {
                string field = "template.components[" + i.ToString(CultureInfo.InvariantCulture) + "]";
                Object(component, field);
                var parameters = new List<TemplateParameter>();
                if (component.TryGetProperty("parameters", out _))
                {
                    int j = 0;
                    foreach (var parameter in Array(component, "parameters", field + ".parameters").EnumerateArray())
                    {
                        parameters.Add(ReadParameter(Object(parameter, field + ".parameters"), field + ".parameters[" + j.ToString(CultureInfo.InvariantCulture) + "]"));
                        j++;
                    }
                }

                components.Add(new TemplateComponent(RequiredString(component, "type", field + ".type"), parameters)
                {
                    SubType = OptionalString(component, "sub_type", field + ".sub_type"),
                    Index = ReadIndex(component, field + ".index"),
                });
                i++;
            }
        }

        return new TemplateContent(name, language) { Components = components };
    }

    private static int? ReadIndex(JsonElement component, string field)
    {
        if (!component.TryGetProperty("index", out var value))
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number))
        {
            return number;
        }

        if (value.ValueKind == JsonValueKind.String && int.TryParse(value.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out number))
        {
            return number;
        }

        throw new InvalidMessageException(field, $"'{field}' must be a button position (0 to 9).");
    }

    private static TemplateParameter ReadParameter(JsonElement parameter, string field)
    {
        string type = RequiredString(parameter, "type", field + ".type");
        var result = type switch
        {
            "text" => TemplateParameter.FromText(RequiredString(parameter, "text", field + ".text")),
            "payload" => TemplateParameter.FromPayload(RequiredString(parameter, "payload", field + ".payload")),
            "coupon_code" => TemplateParameter.FromCouponCode(RequiredString(parameter, "coupon_code", field + ".coupon_code")),
            "currency" => ReadCurrency(parameter, field + ".currency"),
            "date_time" => TemplateParameter.FromDateTime(RequiredString(Member(parameter, "date_time", field), "fallback_value", field + ".date_time.fallback_value")),
            "image" => TemplateParameter.FromMedia(MediaKind.Image, ReadSource(Member(parameter, "image", field), field + ".image")),
            "video" => TemplateParameter.FromMedia(MediaKind.Video, ReadSource(Member(parameter, "video", field), field + ".video")),
            "document" => TemplateParameter.FromMedia(MediaKind.Document, ReadSource(Member(parameter, "document", field), field + ".document"),
                OptionalString(Member(parameter, "document", field), "filename", field + ".document.filename")),
            _ => throw new InvalidMessageException(field + ".type", $"Unknown template parameter type '{type}'. Use text, payload, coupon_code, currency, date_time, image, document or video."),
        };
        return OptionalString(parameter, "parameter_name", field + ".parameter_name") is { } parameterName ? result with { ParameterName = parameterName } : result;
    }

    private static JsonElement Member(JsonElement parent, string name, string field) =>
        parent.TryGetProperty(name, out var value) ? Object(value, field + "." + name) : throw new InvalidMessageException(field + "." + name, $"'{field}.{name}' is required.");

    private static TemplateParameter ReadCurrency(JsonElement parameter, string field)
    {
        var currency = Member(parameter, "currency", field[..field.LastIndexOf('.')]);
        if (!currency.TryGetProperty("amount_1000", out var amount) || amount.ValueKind != JsonValueKind.Number || !amount.TryGetInt64(out long amount1000))
        {
            throw new InvalidMessageException(field + ".amount_1000", $"'{field}.amount_1000' must be an integer (the amount times 1,000).");
        }

        return TemplateParameter.FromCurrency(RequiredString(currency, "fallback_value", field + ".fallback_value"), RequiredString(currency, "code", field + ".code"), amount1000);
    }

    private static MessageContent ReadInteractive(JsonElement body)
    {
        string type = RequiredString(body, "type", "interactive.type");
        string? header = body.TryGetProperty("header", out var h) ? RequiredString(Object(h, "interactive.header"), "text", "interactive.header.text") : null;
        string text = body.TryGetProperty("body", out var b) ? RequiredString(Object(b, "interactive.body"), "text", "interactive.body.text")
            : throw new InvalidMessageException("interactive.body", "'interactive.body' is required.");
        string? footer = body.TryGetProperty("footer", out var f) ? RequiredString(Object(f, "interactive.footer"), "text", "interactive.footer.text") : null;
        var action = Member(body, "action", "interactive");
        if (type == "button")
        {
            var buttons = new List<ReplyButton>();
            foreach (var button in Array(action, "buttons", "interactive.action.buttons").EnumerateArray())
            {
                var reply = Member(Object(button, "interactive.action.buttons"), "reply", "interactive.action.buttons");
                buttons.Add(new ReplyButton(RequiredString(reply, "id", "interactive.action.buttons.reply.id"), RequiredString(reply, "title", "interactive.action.buttons.reply.title")));
            }

            return new InteractiveButtonsContent(text, buttons) { Header = header, Footer = footer };
        }

        if (type == "list")
        {
            var sections = new List<ListSection>();
            foreach (var section in Array(action, "sections", "interactive.action.sections").EnumerateArray())
            {
                Object(section, "interactive.action.sections");
                var rows = new List<ListRow>();
                foreach (var row in Array(section, "rows", "interactive.action.sections.rows").EnumerateArray())
                {
                    Object(row, "interactive.action.sections.rows");
                    rows.Add(new ListRow(
                        RequiredString(row, "id", "interactive.action.sections.rows.id"),
                        RequiredString(row, "title", "interactive.action.sections.rows.title"),
                        OptionalString(row, "description", "interactive.action.sections.rows.description")));
                }

                sections.Add(new ListSection(OptionalString(section, "title", "interactive.action.sections.title"), rows));
            }

            return new InteractiveListContent(text, RequiredString(action, "button", "interactive.action.button"), sections) { Header = header, Footer = footer };
        }

        throw new InvalidMessageException("interactive.type", $"Unknown interactive type '{type}'. Use button or list.");
    }

    private static ContactsContent ReadContacts(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidMessageException("contacts", "'contacts' must be an array of contact cards.");
        }

        var cards = new List<ContactCard>();
        foreach (var card in body.EnumerateArray())
        {
            Object(card, "contacts");
            var name = Member(card, "name", "contacts");
            cards.Add(new ContactCard(RequiredString(name, "formatted_name", "contacts.name.formatted_name"))
            {
                FirstName = OptionalString(name, "first_name", "contacts.name.first_name"),
                LastName = OptionalString(name, "last_name", "contacts.name.last_name"),
                Birthday = OptionalString(card, "birthday", "contacts.birthday"),
                Company = card.TryGetProperty("org", out var org) ? OptionalString(Object(org, "contacts.org"), "company", "contacts.org.company") : null,
                Phones = ReadLabelled(card, "phones", e => new ContactPhone(
                    RequiredString(e, "phone", "contacts.phones.phone"), OptionalString(e, "type", "contacts.phones.type"), OptionalString(e, "wa_id", "contacts.phones.wa_id"))),
                Emails = ReadLabelled(card, "emails", e => new ContactEmail(RequiredString(e, "email", "contacts.emails.email"), OptionalString(e, "type", "contacts.emails.type"))),
                Urls = ReadLabelled(card, "urls", e => new ContactUrl(RequiredString(e, "url", "contacts.urls.url"), OptionalString(e, "type", "contacts.urls.type"))),
            });
        }

        return new ContactsContent(cards);
    }

    private static List<T> ReadLabelled<T>(JsonElement card, string name, Func<JsonElement, T> read)
    {
        var items = new List<T>();
        if (card.TryGetProperty(name, out _))
        {
            foreach (var item in Array(card, name, "contacts." + name).EnumerateArray())
            {
                items.Add(read(Object(item, "contacts." + name)));
            }
        }

        return items;
    }
}
