using MultiTenant.Events;

namespace MultiTenant.Inbox;

/// <summary>
/// Turns the inbox items of one <see cref="Source"/> back into the events the tenant's handlers receive. Registered in DI (as an
/// enumerable of <see cref="IInboxEventDecoder"/>) by the package that writes the items, for example the Cloud API.
/// </summary>
public interface IInboxEventDecoder
{
    /// <summary>The <see cref="InboxWrite.Source"/> this decoder reads.</summary>
    string Source { get; }

    /// <summary>
    /// Decodes one item. Returns <see langword="null"/> when the payload cannot be read (the item then becomes a dead letter at once,
    /// since retrying cannot help).
    /// </summary>
    TenantEvent? Decode(InboxItem item);
}
