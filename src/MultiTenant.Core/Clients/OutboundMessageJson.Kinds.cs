using System.Globalization;
using System.Text.Json;

namespace MultiTenant.Clients;

// The writers of the kinds with nested objects.
public static partial class OutboundMessageJson
{
    private static void WriteOptional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    private static void WriteSource(Utf8JsonWriter writer, MediaSource source)
    {
        if (source.Id is { } id)
        {
            writer.WriteString("id", id);
        }
        else
        {
            writer.WriteString("link", source.Link!.AbsoluteUri);
        }
    }

    private static void WriteTemplate(Utf8JsonWriter writer, TemplateContent template)
    {
        writer.WriteString("name", template.Name);
        writer.WriteStartObject("language");
        writer.WriteString("code", template.LanguageCode);
        writer.WriteEndObject();
        if (template.Components is not { Count: > 0 } components)
        {
            return;
        }

        writer.WriteStartArray("components");
        foreach (var component in components)
        {
            writer.WriteStartObject();
            writer.WriteString("type", component.Type);
            WriteOptional(writer, "sub_type", component.SubType);
            if (component.Index is { } index)
            {
                // Meta documents the button index as a string.
                writer.WriteString("index", index.ToString(CultureInfo.InvariantCulture));
            }

            writer.WriteStartArray("parameters");
            foreach (var parameter in component.Parameters)
            {
                WriteParameter(writer, parameter);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteParameter(Utf8JsonWriter writer, TemplateParameter parameter)
    {
        writer.WriteStartObject();
        writer.WriteString("type", parameter.Type);
        WriteOptional(writer, "parameter_name", parameter.ParameterName);
        switch (parameter.Type)
        {
            case "text" or "payload" or "coupon_code":
                writer.WriteString(parameter.Type, parameter.Text);
                break;
            case "currency":
                writer.WriteStartObject("currency");
                writer.WriteString("fallback_value", parameter.Text);
                writer.WriteString("code", parameter.CurrencyCode);
                writer.WriteNumber("amount_1000", parameter.Amount1000 ?? 0);
                writer.WriteEndObject();
                break;
            case "date_time":
                writer.WriteStartObject("date_time");
                writer.WriteString("fallback_value", parameter.Text);
                writer.WriteEndObject();
                break;
            default:
                writer.WriteStartObject(parameter.Type);
                WriteSource(writer, parameter.Media!);
                WriteOptional(writer, "filename", parameter.Filename);
                writer.WriteEndObject();
                break;
        }

        writer.WriteEndObject();
    }

    private static void WriteFrame(Utf8JsonWriter writer, string type, string? header, string body, string? footer)
    {
        writer.WriteString("type", type);
        if (header is not null)
        {
            writer.WriteStartObject("header");
            writer.WriteString("type", "text");
            writer.WriteString("text", header);
            writer.WriteEndObject();
        }

        writer.WriteStartObject("body");
        writer.WriteString("text", body);
        writer.WriteEndObject();
        if (footer is not null)
        {
            writer.WriteStartObject("footer");
            writer.WriteString("text", footer);
            writer.WriteEndObject();
        }
    }

    private static void WriteButtons(Utf8JsonWriter writer, InteractiveButtonsContent buttons)
    {
        WriteFrame(writer, "button", buttons.Header, buttons.Body, buttons.Footer);
        writer.WriteStartObject("action");
        writer.WriteStartArray("buttons");
        foreach (var button in buttons.Buttons)
        {
            writer.WriteStartObject();
            writer.WriteString("type", "reply");
            writer.WriteStartObject("reply");
            writer.WriteString("id", button.Id);
            writer.WriteString("title", button.Title);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteList(Utf8JsonWriter writer, InteractiveListContent list)
    {
        WriteFrame(writer, "list", list.Header, list.Body, list.Footer);
        writer.WriteStartObject("action");
        writer.WriteString("button", list.ButtonText);
        writer.WriteStartArray("sections");
        foreach (var section in list.Sections)
        {
            writer.WriteStartObject();
            WriteOptional(writer, "title", section.Title);
            writer.WriteStartArray("rows");
            foreach (var row in section.Rows)
            {
                writer.WriteStartObject();
                writer.WriteString("id", row.Id);
                writer.WriteString("title", row.Title);
                WriteOptional(writer, "description", row.Description);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteContacts(Utf8JsonWriter writer, ContactsContent contacts)
    {
        writer.WriteStartArray("contacts");
        foreach (var card in contacts.Contacts)
        {
            writer.WriteStartObject();
            WriteOptional(writer, "birthday", card.Birthday);
            WriteLabelled(writer, "emails", card.Emails, static (w, e) => { w.WriteString("email", e.Email); WriteOptional(w, "type", e.Type); });
            writer.WriteStartObject("name");
            writer.WriteString("formatted_name", card.FormattedName);
            WriteOptional(writer, "first_name", card.FirstName);
            WriteOptional(writer, "last_name", card.LastName);
            writer.WriteEndObject();
            if (card.Company is not null)
            {
                writer.WriteStartObject("org");
                writer.WriteString("company", card.Company);
                writer.WriteEndObject();
            }

            WriteLabelled(writer, "phones", card.Phones, static (w, p) =>
            {
                w.WriteString("phone", p.Phone);
                WriteOptional(w, "type", p.Type);
                WriteOptional(w, "wa_id", p.WaId);
            });
            WriteLabelled(writer, "urls", card.Urls, static (w, u) => { w.WriteString("url", u.Url); WriteOptional(w, "type", u.Type); });
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteLabelled<T>(Utf8JsonWriter writer, string name, IReadOnlyList<T> items, Action<Utf8JsonWriter, T> write)
    {
        if (items is not { Count: > 0 })
        {
            return;
        }

        writer.WriteStartArray(name);
        foreach (var item in items)
        {
            writer.WriteStartObject();
            write(writer, item);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }
}
