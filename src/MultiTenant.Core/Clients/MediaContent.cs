namespace MultiTenant.Clients;

/// <summary>The kinds of media message.</summary>
public enum MediaKind
{
    /// <summary>A picture (JPEG or PNG).</summary>
    Image,

    /// <summary>A document (PDF, office formats, plain text).</summary>
    Document,

    /// <summary>An audio file or voice note.</summary>
    Audio,

    /// <summary>A video (MP4, 3GPP).</summary>
    Video,

    /// <summary>A sticker (WebP).</summary>
    Sticker,
}

/// <summary>Where a media message's file is: an id the backend gave an uploaded file, or a public HTTPS link it fetches.</summary>
public sealed record MediaSource
{
    private MediaSource(string? id, Uri? link)
    {
        Id = id;
        Link = link;
    }

    /// <summary>The id of a file uploaded to the backend, or <see langword="null"/> for a link.</summary>
    public string? Id { get; }

    /// <summary>The link the backend downloads the file from, or <see langword="null"/> for an uploaded id.</summary>
    public Uri? Link { get; }

    /// <summary>A file uploaded to the backend.</summary>
    /// <param name="id">The media id the upload returned.</param>
    /// <exception cref="ArgumentException"><paramref name="id"/> is null, empty or white space.</exception>
    public static MediaSource FromId(string id)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        return new MediaSource(id, null);
    }

    /// <summary>A file the backend downloads from a link.</summary>
    /// <param name="link">An absolute http or https URL.</param>
    /// <exception cref="ArgumentException"><paramref name="link"/> is not an absolute http(s) URL.</exception>
    public static MediaSource FromLink(Uri link)
    {
        ArgumentNullException.ThrowIfNull(link);
        if (!link.IsAbsoluteUri || (link.Scheme != Uri.UriSchemeHttps && link.Scheme != Uri.UriSchemeHttp))
        {
            throw new ArgumentException("A media link must be an absolute http or https URL.", nameof(link));
        }

        return new MediaSource(null, link);
    }
}

/// <summary>An image, document, audio, video or sticker message.</summary>
/// <param name="MediaKind">Which kind of media.</param>
/// <param name="Source">The uploaded id or the link of the file.</param>
public sealed record MediaContent(MediaKind MediaKind, MediaSource Source) : MessageContent
{
    /// <inheritdoc/>
    public override string Kind => MediaKind switch
    {
        MediaKind.Image => "image",
        MediaKind.Document => "document",
        MediaKind.Audio => "audio",
        MediaKind.Video => "video",
        MediaKind.Sticker => "sticker",
        _ => throw new InvalidOperationException("Unknown media kind " + MediaKind + "."),
    };

    /// <summary>The caption (images, documents and videos only), or <see langword="null"/> (the default).</summary>
    public string? Caption { get; init; }

    /// <summary>The file name shown to the recipient (documents only), or <see langword="null"/> (the default).</summary>
    public string? Filename { get; init; }
}
