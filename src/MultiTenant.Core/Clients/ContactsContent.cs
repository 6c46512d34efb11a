namespace MultiTenant.Clients;

/// <summary>One or more contact cards.</summary>
/// <param name="Contacts">The cards.</param>
public sealed record ContactsContent(IReadOnlyList<ContactCard> Contacts) : MessageContent
{
    /// <inheritdoc/>
    public override string Kind => "contacts";
}

/// <summary>A contact card.</summary>
/// <param name="FormattedName">The full name as shown.</param>
public sealed record ContactCard(string FormattedName)
{
    /// <summary>The first name, or <see langword="null"/>.</summary>
    public string? FirstName { get; init; }

    /// <summary>The last name, or <see langword="null"/>.</summary>
    public string? LastName { get; init; }

    /// <summary>The birthday as <c>YYYY-MM-DD</c>, or <see langword="null"/>.</summary>
    public string? Birthday { get; init; }

    /// <summary>The company, or <see langword="null"/>.</summary>
    public string? Company { get; init; }

    /// <summary>The phone numbers; empty by default.</summary>
    public IReadOnlyList<ContactPhone> Phones { get; init; } = [];

    /// <summary>The email addresses; empty by default.</summary>
    public IReadOnlyList<ContactEmail> Emails { get; init; } = [];

    /// <summary>The web sites; empty by default.</summary>
    public IReadOnlyList<ContactUrl> Urls { get; init; } = [];
}

/// <summary>A phone number of a contact card.</summary>
/// <param name="Phone">The number.</param>
/// <param name="Type">Its label (<c>CELL</c>, <c>MAIN</c>, <c>IPHONE</c>, <c>HOME</c>, <c>WORK</c>), or <see langword="null"/>.</param>
/// <param name="WaId">The number's WhatsApp id, or <see langword="null"/>.</param>
public sealed record ContactPhone(string Phone, string? Type = null, string? WaId = null);

/// <summary>An email address of a contact card.</summary>
/// <param name="Email">The address.</param>
/// <param name="Type">Its label (<c>HOME</c>, <c>WORK</c>), or <see langword="null"/>.</param>
public sealed record ContactEmail(string Email, string? Type = null);

/// <summary>A web site of a contact card.</summary>
/// <param name="Url">The address.</param>
/// <param name="Type">Its label (<c>HOME</c>, <c>WORK</c>), or <see langword="null"/>.</param>
public sealed record ContactUrl(string Url, string? Type = null);
