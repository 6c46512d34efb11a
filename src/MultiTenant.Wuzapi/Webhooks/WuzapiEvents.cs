using MultiTenant.Events;

namespace MultiTenant.Wuzapi;

/// <summary>
/// A message a wuzapi tenant received (wuzapi's <c>Message</c> webhook): the <see cref="MessageEvent"/> fields (the id, the sender's
/// number as <see cref="MessageEvent.From"/>, the kind as <see cref="MessageEvent.Type"/>: <c>text</c>, <c>image</c>, <c>video</c>,
/// <c>audio</c>, <c>document</c>, <c>sticker</c>, <c>location</c>, <c>contacts</c>, <c>reaction</c> or <c>unknown</c>, and the text or
/// caption), plus what WhatsApp Web adds.
/// </summary>
public sealed class WuzapiMessageEvent : MessageEvent
{
    /// <summary>The chat's JID (the sender's for a direct message, the group's for a group).</summary>
    public string Chat { get; init; } = string.Empty;

    /// <summary>The sender's JID.</summary>
    public string SenderJid { get; init; } = string.Empty;

    /// <summary>The sender's push name, when WhatsApp sent one.</summary>
    public string? PushName { get; init; }

    /// <summary>Whether the chat is a group.</summary>
    public bool IsGroup { get; init; }

    /// <summary>Whether the message was sent by the tenant's own account (from the phone or another linked device).</summary>
    public bool IsFromMe { get; init; }

    /// <summary>The engine's event JSON as delivered (<c>jsonData</c>: <c>{"type":"Message","event":{…}}</c>), for fields not mapped here.</summary>
    public string Payload { get; init; } = string.Empty;
}

/// <summary>A contact came online or went offline (wuzapi's <c>Presence</c> webhook).</summary>
public sealed class WuzapiPresenceEvent : TenantEvent
{
    /// <summary>The contact's JID.</summary>
    public string From { get; init; } = string.Empty;

    /// <summary>Whether the contact is online.</summary>
    public bool Available { get; init; }

    /// <summary>When the contact was last seen, when WhatsApp said.</summary>
    public DateTimeOffset? LastSeen { get; init; }
}

/// <summary>A contact is typing or recording in a chat, or stopped (wuzapi's <c>ChatPresence</c> webhook).</summary>
public sealed class WuzapiChatPresenceEvent : TenantEvent
{
    /// <summary>The chat's JID.</summary>
    public string Chat { get; init; } = string.Empty;

    /// <summary>The JID of the contact who types.</summary>
    public string Sender { get; init; } = string.Empty;

    /// <summary><c>composing</c> or <c>paused</c>.</summary>
    public string State { get; init; } = string.Empty;

    /// <summary><c>audio</c> while recording a voice note, else empty.</summary>
    public string Media { get; init; } = string.Empty;
}

/// <summary>
/// An engine event without a typed form, such as <c>HistorySync</c> (the chats and messages WhatsApp sends a newly linked device):
/// its wuzapi type and the engine's JSON as delivered.
/// </summary>
public sealed class WuzapiEngineEvent : TenantEvent
{
    /// <summary>wuzapi's event type, such as <c>HistorySync</c>.</summary>
    public string EventType { get; init; } = string.Empty;

    /// <summary>The engine's event JSON as delivered (<c>{"type":"…","event":{…}}</c>).</summary>
    public string Payload { get; init; } = string.Empty;
}
