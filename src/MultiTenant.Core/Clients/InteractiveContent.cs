namespace MultiTenant.Clients;

/// <summary>A message with up to three reply buttons; the recipient's tap comes back as an interactive reply.</summary>
/// <param name="Body">The message text.</param>
/// <param name="Buttons">The buttons, 1 to 3.</param>
public sealed record InteractiveButtonsContent(string Body, IReadOnlyList<ReplyButton> Buttons) : MessageContent
{
    /// <inheritdoc/>
    public override string Kind => "interactive";

    /// <summary>A text header, or <see langword="null"/> (the default).</summary>
    public string? Header { get; init; }

    /// <summary>A footer, or <see langword="null"/> (the default).</summary>
    public string? Footer { get; init; }
}

/// <summary>A reply button.</summary>
/// <param name="Id">The id returned when it is tapped.</param>
/// <param name="Title">The button's label.</param>
public sealed record ReplyButton(string Id, string Title);

/// <summary>A message with a button that opens a list of choices, in sections.</summary>
/// <param name="Body">The message text.</param>
/// <param name="ButtonText">The label of the button that opens the list.</param>
/// <param name="Sections">The sections, each with rows.</param>
public sealed record InteractiveListContent(string Body, string ButtonText, IReadOnlyList<ListSection> Sections) : MessageContent
{
    /// <inheritdoc/>
    public override string Kind => "interactive";

    /// <summary>A text header, or <see langword="null"/> (the default).</summary>
    public string? Header { get; init; }

    /// <summary>A footer, or <see langword="null"/> (the default).</summary>
    public string? Footer { get; init; }
}

/// <summary>A section of a list.</summary>
/// <param name="Title">The section's title (required when the list has more than one section), or <see langword="null"/>.</param>
/// <param name="Rows">The rows.</param>
public sealed record ListSection(string? Title, IReadOnlyList<ListRow> Rows);

/// <summary>A choice of a list.</summary>
/// <param name="Id">The id returned when it is chosen.</param>
/// <param name="Title">The row's title.</param>
/// <param name="Description">A line under the title, or <see langword="null"/>.</param>
public sealed record ListRow(string Id, string Title, string? Description = null);
