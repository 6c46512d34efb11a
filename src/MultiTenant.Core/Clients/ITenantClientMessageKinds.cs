namespace MultiTenant.Clients;

/// <summary>
/// The optional capability of an <see cref="ITenantClientFactory"/> (a backend) to say which <see cref="MessageContent"/> kinds its
/// clients send and with which limits. <see cref="Hosting.ITenantCoordinator.SendMessageAsync"/> asks it before the message reaches any
/// client, on the host that takes the send (before a fleet relays it to the host that runs the tenant): a kind the backend cannot send
/// fails with <see cref="MessageKindNotSupportedException"/> (the tenant API answers 422 <c>kind_not_supported</c>) and a message over
/// one of its limits with <see cref="InvalidMessageException"/> (400), so nothing is sent and no rate slot is used.
/// </summary>
/// <remarks>
/// <para>A factory without this capability declares <b>text only</b>: a message of any other kind to one of its tenants fails with
/// <see cref="MessageKindNotSupportedException"/>. The Cloud API backend (<c>UseCloudApi()</c>) declares every kind with Meta's
/// documented limits.</para>
/// <para>It is a capability of the factory rather than of each client because a send is judged before any client is involved: the
/// tenant may run on another host of the fleet, and every host of a fleet configures the same factory.</para>
/// </remarks>
public interface ITenantClientMessageKinds
{
    /// <summary>Whether the clients send messages of <paramref name="kind"/> (a <see cref="MessageContent.Kind"/>, such as <c>image</c>).</summary>
    /// <param name="kind">The kind.</param>
    bool CanSend(string kind);

    /// <summary>Checks a message of a kind <see cref="CanSend"/> accepts against the backend's limits. Must not perform I/O.</summary>
    /// <param name="message">The message.</param>
    /// <exception cref="InvalidMessageException">The first limit the message breaks (naming the field).</exception>
    void Validate(OutboundMessage message);
}
