using System.Text.Json;

namespace MultiTenant.Clients;

/// <summary>
/// The JSON form of an <see cref="OutboundMessage"/>: the WhatsApp Cloud API's message object, <c>{"to":"…","context":{"message_id":"…"},
/// "type":"image","image":{"link":"…"}}</c>, with the names Meta documents (snake_case). <see cref="Write"/> and <see cref="Parse"/> are
/// a lossless round trip for every kind, so a message can be stored, relayed to another host or taken from an HTTP body.
/// </summary>
public static partial class OutboundMessageJson
{
    /// <summary>Writes the message as one JSON object.</summary>
    /// <param name="writer">The writer.</param>
    /// <param name="message">The message.</param>
    public static void Write(Utf8JsonWriter writer, OutboundMessage message)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        WriteProperties(writer, message);
        writer.WriteEndObject();
    }

    /// <summary>The message as UTF-8 JSON.</summary>
    /// <param name="message">The message.</param>
    public static byte[] ToUtf8Bytes(OutboundMessage message)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, message);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Writes the message's properties (<c>to</c>, <c>context</c>, <c>type</c> and the object named by the type) into the object the
    /// writer is in, so a backend can add its own properties around them.
    /// </summary>
    /// <param name="writer">The writer, inside an object.</param>
    /// <param name="message">The message.</param>
    public static void WriteProperties(Utf8JsonWriter writer, OutboundMessage message)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(message);
        writer.WriteString("to", message.To);
        if (message.ReplyToMessageId is { } replyTo)
        {
            writer.WriteStartObject("context");
            writer.WriteString("message_id", replyTo);
            writer.WriteEndObject();
        }

        var content = message.Content;
        writer.WriteString("type", content.Kind);
        if (content is ContactsContent contacts)
        {
            // The one kind whose object is an array of cards.
            WriteContacts(writer, contacts);
            return;
        }

        writer.WriteStartObject(content.Kind);
        switch (content)
        {
            case TextContent text:
                writer.WriteBoolean("preview_url", text.PreviewUrl);
                writer.WriteString("body", text.Body);
                break;
            case TemplateContent template:
                WriteTemplate(writer, template);
                break;
            case MediaContent media:
                WriteSource(writer, media.Source);
                WriteOptional(writer, "caption", media.Caption);
                WriteOptional(writer, "filename", media.Filename);
                break;
            case LocationContent location:
                writer.WriteNumber("latitude", location.Latitude);
                writer.WriteNumber("longitude", location.Longitude);
                WriteOptional(writer, "name", location.Name);
                WriteOptional(writer, "address", location.Address);
                break;
            case ReactionContent reaction:
                writer.WriteString("message_id", reaction.MessageId);
                writer.WriteString("emoji", reaction.Emoji);
                break;
            case InteractiveButtonsContent buttons:
                WriteButtons(writer, buttons);
                break;
            case InteractiveListContent list:
                WriteList(writer, list);
                break;
            default:
                throw new ArgumentException("Unknown message content " + content.GetType().Name + ".", nameof(message));
        }

        writer.WriteEndObject();
    }
}
