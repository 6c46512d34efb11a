using MultiTenant.Clients;
using MultiTenant.Hosting;
using MultiTenant.Tests.Infrastructure;

namespace MultiTenant.Tests.Clients;

/// <summary>
/// <see cref="ITenantClientMessageKinds"/>: the coordinator judges a message's kind and limits before it reaches any client; a backend
/// without the capability sends text only.
/// </summary>
public sealed class MessageKindsCapabilityTests
{
    private static readonly OutboundMessage Image = new("15551234567", new MediaContent(MediaKind.Image, MediaSource.FromId("1")));
    private static readonly OutboundMessage Template = new("15551234567", new TemplateContent("hello_world", "en_US"));

    [Fact]
    public async Task A_backend_without_the_capability_sends_text_and_refuses_every_other_kind_before_its_client()
    {
        await using var h = CoordinatorHarness.Create();
        var t = CoordinatorHarness.Id("tenant1");
        await h.StartConnectedAsync(t);

        var refused = await Assert.ThrowsAsync<MessageKindNotSupportedException>(() => h.Coordinator.SendMessageAsync(t, Image));
        await Assert.ThrowsAsync<MessageKindNotSupportedException>(() => h.Coordinator.SendMessageAsync(t, Template));

        Assert.Equal("image", refused.Kind);
        Assert.Equal(t, refused.Tenant);
        Assert.Equal("The client of tenant 'tenant1' cannot send 'image' messages.", refused.Message);
        // The client's first send is this one: the refused ones never reached it.
        Assert.Equal("tenant1-m1", (await h.Coordinator.SendMessageAsync(t, new OutboundMessage("15551234567", "hi"))).MessageId);
    }

    [Fact]
    public async Task A_declaring_backend_is_asked_for_the_kind_and_its_limits_before_the_client()
    {
        DeclaringFactory? backend = null;
        await using var h = CoordinatorHarness.Create(backend: fake => backend = new DeclaringFactory(fake));
        var t = CoordinatorHarness.Id("tenant1");
        await h.StartConnectedAsync(t);

        var unsupported = await Assert.ThrowsAsync<MessageKindNotSupportedException>(() => h.Coordinator.SendMessageAsync(t, Image));
        var invalid = await Assert.ThrowsAsync<InvalidMessageException>(() =>
            h.Coordinator.SendMessageAsync(t, new OutboundMessage("15551234567", new TemplateContent("x", "en_US"))));

        Assert.Equal("image", unsupported.Kind);
        Assert.Equal("template.name", invalid.Field);
        Assert.Equal(["image", "template"], backend!.Asked);
        Assert.Equal("tenant1-m1", (await h.Coordinator.SendMessageAsync(t, Template)).MessageId);
        Assert.Equal(["image", "template", "template"], backend.Asked);
    }

    [Fact]
    public async Task A_sendable_message_to_an_unknown_tenant_is_still_not_found()
    {
        await using var h = CoordinatorHarness.Create();

        await Assert.ThrowsAsync<TenantNotFoundException>(() => h.Coordinator.SendMessageAsync(CoordinatorHarness.Id("nobody"), new OutboundMessage("1555", "hi")));
    }

    /// <summary>A backend that sends text and templates, whose templates need a name of at least 2 characters.</summary>
    private sealed class DeclaringFactory(FakeClientFactory inner) : ITenantClientFactory, ITenantClientMessageKinds
    {
        public List<string> Asked { get; } = [];

        public bool CanSend(string kind)
        {
            Asked.Add(kind);
            return kind is "text" or "template";
        }

        public void Validate(OutboundMessage message)
        {
            if (message.Content is TemplateContent { Name.Length: < 2 })
            {
                throw new InvalidMessageException("template.name", "'template.name' must be at least 2 characters long.");
            }
        }

        public ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken) =>
            inner.CreateClientAsync(context, cancellationToken);
    }
}
