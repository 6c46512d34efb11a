using System.Globalization;
using System.Text;
using MultiTenant.Clients;
using MultiTenant.Wuzapi.Diagnostics;
using MultiTenant.Wuzapi.Engine;
using MultiTenant.Wuzapi.Users;

namespace MultiTenant.Wuzapi.Client;

/// <summary>
/// Sending: text (<c>/chat/send/text</c>), media (<c>/chat/send/{image|audio|document|video|sticker}</c>, the file from the tenant's
/// <see cref="Media.IMediaStore"/> as the <c>data:</c> URL wuzapi expects), location (<c>/chat/send/location</c>), one contact
/// (<c>/chat/send/contact</c>, a vCard) and reactions (<c>/chat/react</c>). Returns the engine's message id (<c>data.Id</c>).
/// </summary>
internal sealed partial class WuzapiClient
{
    /// <summary>The largest media file sent (wuzapi embeds it base64 in one JSON body): 16 MiB.</summary>
    public const int MaxMediaBytes = 16 * 1024 * 1024;

    public async Task<SendMessageResult> SendMessageAsync(OutboundMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!_connected || _user is not { } user || _engine is not { } engine)
        {
            throw new TenantSendException("The tenant's WhatsApp Web session is not connected.", isTransient: true);
        }

        string phone = Phone(message.To);
        var context = message.ReplyToMessageId is { Length: > 0 } quoted ? new ContextInfo(quoted, phone + "@s.whatsapp.net") : null;
        try
        {
            var sent = message.Content switch
            {
                TextContent text => await engine.SendAsync(user.Token, "/chat/send/text", new SendTextRequest(phone, NotEmpty(text.Body, "content.body"), null, context),
                    WuzapiJsonContext.Default.SendTextRequest, cancellationToken).ConfigureAwait(false),
                MediaContent media => await SendMediaAsync(user, engine, phone, media, context, cancellationToken).ConfigureAwait(false),
                LocationContent location => await engine.SendAsync(user.Token, "/chat/send/location", new SendLocationRequest(phone, location.Latitude, location.Longitude, location.Name, null),
                    WuzapiJsonContext.Default.SendLocationRequest, cancellationToken).ConfigureAwait(false),
                ContactsContent { Contacts: [var card] } => await engine.SendAsync(user.Token, "/chat/send/contact", new SendContactRequest(phone, card.FormattedName, VCard(card), null),
                    WuzapiJsonContext.Default.SendContactRequest, cancellationToken).ConfigureAwait(false),
                ContactsContent => throw new InvalidMessageException("content.contacts", "wuzapi sends exactly one contact per message."),
                ReactionContent reaction => await engine.SendAsync(user.Token, "/chat/react", new ReactRequest(phone, reaction.Emoji, reaction.MessageId),
                    WuzapiJsonContext.Default.ReactRequest, cancellationToken).ConfigureAwait(false),
                _ => throw new InvalidMessageException("content.type", $"wuzapi cannot send '{message.Content.Kind}' messages (text, image, audio, document, video, sticker, location, contacts and reaction only)."),
            };
            return new SendMessageResult(sent.Id);
        }
        catch (WuzapiEngineException ex)
        {
            Log.EngineCallFailed(_context.Logger, Tenant.Value, ex.Message);
            bool transient = ex.StatusCode is 0 or 401 or >= 500 && ex.StatusCode != 501;
            if (ex.IsUnauthorized || ex.IsNoSession)
            {
                _context.ReportDisconnected("the engine has no session for the tenant");
            }

            throw new TenantSendException(
                ex.StatusCode == 0 ? "The wuzapi engine could not be reached." : $"The wuzapi engine refused the message (HTTP {ex.StatusCode.ToString(CultureInfo.InvariantCulture)}).",
                transient, errorCode: ex.StatusCode == 0 ? null : ex.StatusCode.ToString(CultureInfo.InvariantCulture), innerException: ex);
        }
    }

    private async Task<SentMessage> SendMediaAsync(EngineUser user, WuzapiEngineApi engine, string phone, MediaContent media, ContextInfo? context, CancellationToken cancellationToken)
    {
        if (media.Source.Id is not { } name)
        {
            throw new InvalidMessageException("content.link", "wuzapi sends media files from the tenant's media store only (an id), not links.");
        }

        if (_services.Media is not { } store)
        {
            throw new InvalidMessageException("content.id", "No media store is registered (UseFileSystemMediaStore), so media ids cannot be sent.");
        }

        byte[] file;
        Stream? stream;
        try
        {
            stream = await store.OpenReadAsync(Tenant, name, cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException)
        {
            throw new InvalidMessageException("content.id", "The media id is not a valid media name.");
        }

        await using (stream)
        {
            if (stream is null)
            {
                throw new InvalidMessageException("content.id", "The tenant has no media file with this id.");
            }

            file = await ReadBoundedAsync(stream, cancellationToken).ConfigureAwait(false);
        }

        string dataUrl = DataUrl(media.MediaKind, file);
        string path = "/chat/send/" + media.Kind;
        var request = media.MediaKind switch
        {
            MediaKind.Image => new SendMediaRequest(phone, dataUrl, null, null, null, null, media.Caption, null, null, context),
            MediaKind.Audio => new SendMediaRequest(phone, null, dataUrl, null, null, null, null, null, null, context),
            MediaKind.Document => new SendMediaRequest(phone, null, null, dataUrl, null, null, media.Caption, media.Filename ?? name, null, context),
            MediaKind.Video => new SendMediaRequest(phone, null, null, null, dataUrl, null, media.Caption, null, null, context),
            _ => new SendMediaRequest(phone, null, null, null, null, dataUrl, null, null, null, context),
        };
        return await engine.SendAsync(user.Token, path, request, WuzapiJsonContext.Default.SendMediaRequest, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<byte[]> ReadBoundedAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxMediaBytes)
            {
                throw new InvalidMessageException("content.id", $"wuzapi sends media files of at most {MaxMediaBytes} bytes.");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>The <c>data:</c> URL wuzapi's handlers check for: image/png|jpeg, audio/ogg, application/octet-stream, video/mp4, image/webp.</summary>
    private static string DataUrl(MediaKind kind, byte[] file)
    {
        string type = kind switch
        {
            MediaKind.Image => file is [0x89, 0x50, 0x4E, 0x47, ..] ? "image/png" : "image/jpeg",
            MediaKind.Audio => "audio/ogg",
            MediaKind.Document => "application/octet-stream",
            MediaKind.Video => "video/mp4",
            _ => "image/webp",
        };
        return "data:" + type + ";base64," + Convert.ToBase64String(file);
    }

    /// <summary>A phone number or JID as wuzapi's <c>Phone</c>: a leading <c>+</c> dropped.</summary>
    private static string Phone(string to)
    {
        string phone = to.Trim();
        phone = phone.StartsWith('+') ? phone[1..] : phone;
        return phone.Length == 0 ? throw new InvalidMessageException("to", "The recipient is empty.") : phone;
    }

    private static string NotEmpty(string value, string field) =>
        string.IsNullOrWhiteSpace(value) ? throw new InvalidMessageException(field, "The text is empty.") : value;

    private static string VCard(ContactCard card)
    {
        var sb = new StringBuilder("BEGIN:VCARD\nVERSION:3.0\n");
        sb.Append("N:").Append(card.LastName).Append(';').Append(card.FirstName).Append(";;;\n");
        sb.Append("FN:").Append(card.FormattedName).Append('\n');
        if (card.Company is { Length: > 0 } company)
        {
            sb.Append("ORG:").Append(company).Append('\n');
        }

        foreach (var phone in card.Phones)
        {
            sb.Append("TEL;type=").Append(phone.Type ?? "CELL");
            if (phone.WaId is { Length: > 0 } waId)
            {
                sb.Append(";waid=").Append(waId);
            }

            sb.Append(':').Append(phone.Phone).Append('\n');
        }

        foreach (var email in card.Emails)
        {
            sb.Append("EMAIL;type=").Append(email.Type ?? "INTERNET").Append(':').Append(email.Email).Append('\n');
        }

        foreach (var url in card.Urls)
        {
            sb.Append("URL:").Append(url.Url).Append('\n');
        }

        return sb.Append("END:VCARD").ToString();
    }
}
