using System.Globalization;
using MultiTenant.Clients;

namespace MultiTenant.CloudApi.Client;

/// <summary>
/// The Cloud API's documented limits of a message, checked before any Graph call so a message Meta would refuse (or silently cut) costs
/// no request and no rate slot: text 4,096 characters; captions 1,024 (images, documents and videos only); 1 to 3 reply buttons with
/// unique ids (≤ 256) and titles (≤ 20); lists with 1 to 10 sections and 1 to 10 rows in all (titles ≤ 24, ids ≤ 200, descriptions ≤ 72),
/// a button text ≤ 20 and a section title on every section when there are several; interactive headers and footers ≤ 60, button bodies
/// ≤ 1,024 and list bodies ≤ 4,096; template names ≤ 512 with button components carrying a sub type and an index 0 to 9.
/// </summary>
internal static class MessageValidator
{
    public const int MaxTextLength = 4096;
    public const int MaxCaptionLength = 1024;
    public const int MaxButtons = 3;
    public const int MaxButtonTitleLength = 20;
    public const int MaxButtonIdLength = 256;
    public const int MaxButtonBodyLength = 1024;
    public const int MaxListBodyLength = 4096;
    public const int MaxHeaderLength = 60;
    public const int MaxFooterLength = 60;
    public const int MaxListButtonTextLength = 20;
    public const int MaxSections = 10;
    public const int MaxRows = 10;
    public const int MaxSectionTitleLength = 24;
    public const int MaxRowTitleLength = 24;
    public const int MaxRowIdLength = 200;
    public const int MaxRowDescriptionLength = 72;
    public const int MaxTemplateNameLength = 512;

    /// <exception cref="InvalidMessageException">The first limit the message breaks.</exception>
    public static void Validate(OutboundMessage message)
    {
        if (message.ReplyToMessageId is { } replyTo && string.IsNullOrWhiteSpace(replyTo))
        {
            throw new InvalidMessageException("context.message_id", "The id of the message replied to is empty.");
        }

        switch (message.Content)
        {
            case TextContent text:
                Length(text.Body, "text.body", 1, MaxTextLength);
                break;
            case MediaContent media:
                ValidateMedia(media);
                break;
            case TemplateContent template:
                ValidateTemplate(template);
                break;
            case LocationContent location:
                if (!double.IsFinite(location.Latitude) || location.Latitude is < -90 or > 90)
                {
                    throw new InvalidMessageException("location.latitude", "The latitude must be between -90 and 90 degrees.");
                }

                if (!double.IsFinite(location.Longitude) || location.Longitude is < -180 or > 180)
                {
                    throw new InvalidMessageException("location.longitude", "The longitude must be between -180 and 180 degrees.");
                }

                break;
            case ReactionContent reaction:
                Length(reaction.MessageId, "reaction.message_id", 1, int.MaxValue);
                Length(reaction.Emoji, "reaction.emoji", 0, 16);
                break;
            case ContactsContent contacts:
                if (contacts.Contacts is not { Count: > 0 })
                {
                    throw new InvalidMessageException("contacts", "At least one contact card is needed.");
                }

                foreach (var card in contacts.Contacts)
                {
                    Length(card.FormattedName, "contacts.name.formatted_name", 1, int.MaxValue);
                }

                break;
            case InteractiveButtonsContent buttons:
                ValidateButtons(buttons);
                break;
            case InteractiveListContent list:
                ValidateList(list);
                break;
            default:
                throw new InvalidMessageException("type", $"The Cloud API client cannot send '{message.Content.Kind}' content.");
        }
    }

    private static void ValidateMedia(MediaContent media)
    {
        string kind = media.Kind;
        if (media.Caption is not null)
        {
            if (media.MediaKind is MediaKind.Audio or MediaKind.Sticker)
            {
                throw new InvalidMessageException(kind + ".caption", $"A{(kind == "audio" ? "n" : string.Empty)} {kind} message cannot have a caption.");
            }

            Length(media.Caption, kind + ".caption", 0, MaxCaptionLength);
        }

        if (media.Filename is not null && media.MediaKind != MediaKind.Document)
        {
            throw new InvalidMessageException(kind + ".filename", "Only a document has a file name.");
        }
    }

    private static void ValidateTemplate(TemplateContent template)
    {
        Length(template.Name, "template.name", 1, MaxTemplateNameLength);
        Length(template.LanguageCode, "template.language.code", 2, 16);
        for (int i = 0; i < template.Components.Count; i++)
        {
            var component = template.Components[i];
            string field = "template.components[" + i.ToString(CultureInfo.InvariantCulture) + "]";
            if (component.Type is not ("header" or "body" or "button"))
            {
                throw new InvalidMessageException(field + ".type", "A template component is 'header', 'body' or 'button'.");
            }

            if (component.Type == "button" && (component.SubType is null || component.Index is not (>= 0 and <= 9)))
            {
                throw new InvalidMessageException(field, "A button component needs a 'sub_type' (quick_reply, url or copy_code) and an 'index' from 0 to 9.");
            }

            foreach (var parameter in component.Parameters)
            {
                if (parameter.Text is { } value && (parameter.Type is "text" or "payload" or "coupon_code") && value.Length == 0)
                {
                    throw new InvalidMessageException(field + ".parameters", "A template parameter's text is empty.");
                }
            }
        }
    }

    private static void ValidateButtons(InteractiveButtonsContent content)
    {
        Frame(content.Header, content.Body, content.Footer, MaxButtonBodyLength);
        if (content.Buttons is not { Count: >= 1 and <= MaxButtons })
        {
            throw new InvalidMessageException("interactive.action.buttons", $"A button message has 1 to {MaxButtons} reply buttons; it has {content.Buttons?.Count ?? 0}.");
        }

        var ids = new HashSet<string>(StringComparer.Ordinal);
        var titles = new HashSet<string>(StringComparer.Ordinal);
        foreach (var button in content.Buttons)
        {
            Length(button.Id, "interactive.action.buttons.reply.id", 1, MaxButtonIdLength);
            Length(button.Title, "interactive.action.buttons.reply.title", 1, MaxButtonTitleLength);
            if (!ids.Add(button.Id) || !titles.Add(button.Title))
            {
                throw new InvalidMessageException("interactive.action.buttons", "The reply buttons' ids and titles must be unique.");
            }
        }
    }

    private static void ValidateList(InteractiveListContent content)
    {
        Frame(content.Header, content.Body, content.Footer, MaxListBodyLength);
        Length(content.ButtonText, "interactive.action.button", 1, MaxListButtonTextLength);
        if (content.Sections is not { Count: >= 1 and <= MaxSections })
        {
            throw new InvalidMessageException("interactive.action.sections", $"A list has 1 to {MaxSections} sections; it has {content.Sections?.Count ?? 0}.");
        }

        int rows = 0;
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var section in content.Sections)
        {
            if (section.Title is null ? content.Sections.Count > 1 : section.Title.Length is 0 or > MaxSectionTitleLength)
            {
                throw new InvalidMessageException("interactive.action.sections.title",
                    $"A section title is 1 to {MaxSectionTitleLength} characters, and every section has one when the list has several.");
            }

            foreach (var row in section.Rows)
            {
                rows++;
                Length(row.Id, "interactive.action.sections.rows.id", 1, MaxRowIdLength);
                Length(row.Title, "interactive.action.sections.rows.title", 1, MaxRowTitleLength);
                if (row.Description is not null)
                {
                    Length(row.Description, "interactive.action.sections.rows.description", 0, MaxRowDescriptionLength);
                }

                if (!ids.Add(row.Id))
                {
                    throw new InvalidMessageException("interactive.action.sections.rows.id", "The rows' ids must be unique across the list.");
                }
            }
        }

        if (rows is < 1 or > MaxRows)
        {
            throw new InvalidMessageException("interactive.action.sections.rows", $"A list has 1 to {MaxRows} rows in all its sections; it has {rows}.");
        }
    }

    private static void Frame(string? header, string body, string? footer, int maxBody)
    {
        if (header is not null)
        {
            Length(header, "interactive.header.text", 1, MaxHeaderLength);
        }

        Length(body, "interactive.body.text", 1, maxBody);
        if (footer is not null)
        {
            Length(footer, "interactive.footer.text", 1, MaxFooterLength);
        }
    }

    private static void Length(string? value, string field, int min, int max)
    {
        int length = value?.Length ?? 0;
        if (value is null || length < min || length > max)
        {
            string limit = max == int.MaxValue ? $"at least {min}" : min == max ? $"{max}" : $"{min} to {max}";
            throw new InvalidMessageException(field, $"'{field}' must be {limit} characters long; it has {length}.");
        }
    }
}
