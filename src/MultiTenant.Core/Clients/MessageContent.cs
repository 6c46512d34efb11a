namespace MultiTenant.Clients;

/// <summary>What a message carries. One sealed subtype per kind; <see cref="Kind"/> names it as the Cloud API's <c>type</c> does.</summary>
public abstract record MessageContent
{
    private protected MessageContent()
    {
    }

    /// <summary>The kind: <c>text</c>, <c>template</c>, <c>image</c>, <c>document</c>, <c>audio</c>, <c>video</c>, <c>sticker</c>,
    /// <c>location</c>, <c>contacts</c>, <c>reaction</c> or <c>interactive</c>.</summary>
    public abstract string Kind { get; }
}

/// <summary>A text message.</summary>
/// <param name="Body">The text.</param>
public sealed record TextContent(string Body) : MessageContent
{
    /// <inheritdoc/>
    public override string Kind => "text";

    /// <summary>Whether the recipient's app renders a preview of the first URL in the text. Default <see langword="false"/>.</summary>
    public bool PreviewUrl { get; init; }
}

/// <summary>A location pin.</summary>
/// <param name="Latitude">Latitude in degrees, -90 to 90.</param>
/// <param name="Longitude">Longitude in degrees, -180 to 180.</param>
public sealed record LocationContent(double Latitude, double Longitude) : MessageContent
{
    /// <inheritdoc/>
    public override string Kind => "location";

    /// <summary>The place's name, or <see langword="null"/> (the default).</summary>
    public string? Name { get; init; }

    /// <summary>The place's address, or <see langword="null"/> (the default).</summary>
    public string? Address { get; init; }
}

/// <summary>A reaction (an emoji) to a message of the conversation; an empty <paramref name="Emoji"/> removes the reaction.</summary>
/// <param name="MessageId">The id of the message reacted to.</param>
/// <param name="Emoji">One emoji, or an empty string to remove the reaction.</param>
public sealed record ReactionContent(string MessageId, string Emoji) : MessageContent
{
    /// <inheritdoc/>
    public override string Kind => "reaction";
}
