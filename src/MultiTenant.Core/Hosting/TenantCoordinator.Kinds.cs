using MultiTenant.Clients;

namespace MultiTenant.Hosting;

// The check of a message's kind and limits before a send reaches a client or a relay (ITenantClientMessageKinds).
public sealed partial class TenantCoordinator
{
    private void CheckSendable(TenantId tenant, OutboundMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var content = message.Content;
        if (ClientFactory is ITenantClientMessageKinds kinds)
        {
            if (!kinds.CanSend(content.Kind))
            {
                throw new MessageKindNotSupportedException(tenant, content.Kind);
            }

            kinds.Validate(message);
        }
        else if (content is not TextContent)
        {
            // A backend that does not declare its kinds sends text only.
            throw new MessageKindNotSupportedException(tenant, content.Kind);
        }
    }
}
