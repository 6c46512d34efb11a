using System.Globalization;
using System.Text.Json;

namespace MultiTenant.Clients;

// The strict reading: the members each object of the message may have, so a member the model would drop (a misspelt "captoin", a
// kind's object next to another kind, a Meta member this library does not carry) is refused by name instead of silently ignored.
public static partial class OutboundMessageJson
{
    private const string MediaMembers = "id link caption filename";

    // The members of each object, by its path without array indices; the message object's own are checked in CheckMembers.
    private static readonly Dictionary<string, string[]> KnownMembers = new(StringComparer.Ordinal)
    {
        ["context"] = Names("message_id"),
        ["text"] = Names("body preview_url"),
        ["image"] = Names(MediaMembers),
        ["document"] = Names(MediaMembers),
        ["audio"] = Names(MediaMembers),
        ["video"] = Names(MediaMembers),
        ["sticker"] = Names(MediaMembers),
        ["location"] = Names("latitude longitude name address"),
        ["reaction"] = Names("message_id emoji"),
        ["template"] = Names("name language components"),
        ["template.language"] = Names("code"),
        ["template.components"] = Names("type sub_type index parameters"),
        ["template.components.parameters"] = Names("type parameter_name text payload coupon_code currency date_time image document video"),
        ["template.components.parameters.currency"] = Names("fallback_value code amount_1000"),
        ["template.components.parameters.date_time"] = Names("fallback_value"),
        ["template.components.parameters.image"] = Names("id link"),
        ["template.components.parameters.video"] = Names("id link"),
        ["template.components.parameters.document"] = Names("id link filename"),
        ["interactive"] = Names("type header body footer action"),
        ["interactive.header"] = Names("type text"),
        ["interactive.body"] = Names("text"),
        ["interactive.footer"] = Names("text"),
        ["interactive.action"] = Names("button buttons sections"),
        ["interactive.action.buttons"] = Names("type reply"),
        ["interactive.action.buttons.reply"] = Names("id title"),
        ["interactive.action.sections"] = Names("title rows"),
        ["interactive.action.sections.rows"] = Names("id title description"),
        ["contacts"] = Names("birthday emails name org phones urls"),
        ["contacts.name"] = Names("formatted_name first_name last_name"),
        ["contacts.org"] = Names("company"),
        ["contacts.phones"] = Names("phone type wa_id"),
        ["contacts.emails"] = Names("email type"),
        ["contacts.urls"] = Names("url type"),
    };

    /// <summary>
    /// Reads a message object as <see cref="Parse(ReadOnlySpan{byte})"/> does, and also refuses every member the message model does not
    /// carry and every member that appears twice, so a misspelt member is reported instead of ignored. Accepted besides the members of
    /// the kinds: <c>to</c>, <c>type</c>, <c>context</c>, and Meta's constant <c>messaging_product</c> and <c>recipient_type</c>. For
    /// bodies taken from callers, such as the tenant API's <c>POST /api/tenants/{business_id}/messages</c>.
    /// </summary>
    /// <param name="utf8Json">The JSON.</param>
    /// <exception cref="InvalidMessageException">Not JSON, not a message object, or an unknown or repeated member (the exception names
    /// the field).</exception>
    public static OutboundMessage ParseStrict(ReadOnlySpan<byte> utf8Json) => ParseDocument(utf8Json, strict: true);

    private static string[] Names(string names) => names.Split(' ');

    private static void CheckMembers(JsonElement message)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            return; // Read says what is wrong
        }

        string? type = message.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in message.EnumerateObject())
        {
            string name = member.Name;
            if (!seen.Add(name))
            {
                throw new InvalidMessageException(Printable(name), $"{Describe(name)} appears more than once.");
            }

            bool known = name is "to" or "type" or "context" or "messaging_product" or "recipient_type"
                || name == (type ?? "text");
            if (!known)
            {
                throw new InvalidMessageException(Printable(name), KnownMembers.ContainsKey(name)
                    ? $"'{name}' does not belong to a message of type '{type ?? "text"}'; a message carries the object named by its 'type' only."
                    : $"{Describe(name)} is not accepted; a message has 'to', 'type', optionally 'context', and the object its type names.");
            }

            CheckValue(member.Value, name, name);
        }
    }

    private static void CheckValue(JsonElement value, string path, string field)
    {
        if (value.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (var item in value.EnumerateArray())
            {
                CheckValue(item, path, field + "[" + i.ToString(CultureInfo.InvariantCulture) + "]");
                i++;
            }

            return;
        }

        if (value.ValueKind != JsonValueKind.Object || !KnownMembers.TryGetValue(path, out var known))
        {
            return; // a value, or an object where the model expects a value: Read says what is wrong
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in value.EnumerateObject())
        {
            string name = member.Name;
            string memberField = field + "." + Printable(name);
            if (System.Array.IndexOf(known, name) < 0)
            {
                throw new InvalidMessageException(memberField,
                    $"{Describe(name)} is not accepted in '{field}', which has {string.Join(", ", known.Select(static k => "'" + k + "'"))}.");
            }

            if (!seen.Add(name))
            {
                throw new InvalidMessageException(memberField, $"'{memberField}' appears more than once.");
            }

            CheckValue(member.Value, path + "." + name, memberField);
        }
    }

    /// <summary>Names an unknown member, quoting it only when it is short and printable (it is the caller's input).</summary>
    private static string Describe(string name) => Printable(name) == name ? $"The member '{name}'" : "An unknown member";

    private static string Printable(string name)
    {
        if (name.Length is 0 or > 64)
        {
            return "?";
        }

        foreach (char c in name)
        {
            if (char.IsControl(c) || char.IsSurrogate(c) || c is '\'' or '"' or '\\')
            {
                return "?";
            }
        }

        return name;
    }
}
