using System.Diagnostics;

namespace MultiTenant.Diagnostics;

/// <summary>
/// The OpenTelemetry tracing of MultiTenant: every package creates its spans on an <see cref="ActivitySource"/> named
/// <see cref="ActivitySourceName"/>, so one <c>AddSource("MultiTenant")</c> on a tracer provider collects them all, with any exporter.
/// </summary>
/// <remarks>
/// <para>Spans (names are stable; each carries the tenant as <see cref="BusinessIdAttribute"/>):</para>
/// <list type="bullet">
/// <item><c>tenant connect</c> (client kind): one connect attempt of a tenant's client, the wait for a connect slot included; an error
/// status with the exception's type name (never its message) when the attempt failed.</item>
/// <item><c>tenant send</c> (internal): a send through <see cref="Hosting.ITenantCoordinator.SendMessageAsync"/>, on the host that took
/// the call; <see cref="LocalAttribute"/> says whether the tenant runs on this host (false: the placement relays the send to the owner).</item>
/// <item><c>tenant client send</c> (client kind): the call into the tenant's client on the host that runs it (after a relay: on the owner).</item>
/// <item><c>tenant handle</c> (consumer kind): one event through every handler of the tenant, a child of the span that was current when
/// the client wrote the event (a webhook receipt, for example), with <see cref="EventAttribute"/> naming the event type.</item>
/// <item><c>webhook receive</c> (internal, <c>MultiTenant.CloudApi</c>): one signed Cloud API webhook POST from its parsed payload to
/// the committed inbox write, a child of the ASP.NET Core request span; <see cref="BusinessIdAttribute"/> when its items are of one
/// tenant, <see cref="WebhookTenantsAttribute"/>, <see cref="InboxAddedAttribute"/>, <see cref="InboxDuplicatesAttribute"/> and
/// <see cref="WebhookOutcomeAttribute"/> (<c>acknowledged</c> or <c>retry_later</c>).</item>
/// <item><c>webhook deliver</c> (client kind, <c>MultiTenant.AspNetCore</c>): one delivery attempt of an outbound webhook event, with
/// <see cref="WebhookEventIdAttribute"/>, <see cref="WebhookAttemptAttribute"/>, <see cref="HttpStatusCodeAttribute"/> when the
/// receiver answered and <see cref="WebhookOutcomeAttribute"/> (<c>delivered</c>, <c>failed</c>, <c>refused</c>, <c>dead_letter</c>);
/// an error status unless delivered.</item>
/// </list>
/// <para>With no listener on the source, none of this allocates or reads the clock: each site first asks
/// <see cref="ActivitySource.HasListeners"/>.</para>
/// </remarks>
public static class TenantTracing
{
    /// <summary>The activity source's name: <c>MultiTenant</c> (the same name as the meter, <see cref="TenantMetrics.MeterName"/>).</summary>
    public const string ActivitySourceName = "MultiTenant";

    /// <summary>The attribute that carries the tenant's <c>business_id</c> (the same name as the metrics' label).</summary>
    public const string BusinessIdAttribute = "business_id";

    /// <summary>On <c>tenant send</c>: <see langword="true"/> when the tenant runs on the host that took the send.</summary>
    public const string LocalAttribute = "multitenant.local";

    /// <summary>On <c>tenant send</c> and <c>tenant client send</c>: the message's kind (<c>text</c>, <c>template</c>, <c>image</c>, ...).</summary>
    public const string MessageKindAttribute = "multitenant.message.kind";

    /// <summary>On <c>tenant handle</c>: the event's type name (<c>MessageEvent</c>, <c>ReceiptEvent</c>, ...).</summary>
    public const string EventAttribute = "multitenant.event";

    /// <summary>On <c>webhook receive</c>: the number of tenants the delivery's items were routed to.</summary>
    public const string WebhookTenantsAttribute = "multitenant.webhook.tenants";

    /// <summary>On <c>webhook receive</c>: the items newly written to the inbox.</summary>
    public const string InboxAddedAttribute = "multitenant.inbox.added";

    /// <summary>On <c>webhook receive</c>: the items the inbox already held (a redelivery).</summary>
    public const string InboxDuplicatesAttribute = "multitenant.inbox.duplicates";

    /// <summary>On <c>webhook receive</c> and <c>webhook deliver</c>: how it ended (see the span list above).</summary>
    public const string WebhookOutcomeAttribute = "multitenant.webhook.outcome";

    /// <summary>On <c>webhook deliver</c>: the event's id (the receiver's deduplication key).</summary>
    public const string WebhookEventIdAttribute = "multitenant.webhook.event_id";

    /// <summary>On <c>webhook deliver</c>: the attempt's number, from 1.</summary>
    public const string WebhookAttemptAttribute = "multitenant.webhook.attempt";

    /// <summary>On <c>webhook deliver</c>: the receiver's HTTP status code (OpenTelemetry's <c>http.response.status_code</c>).</summary>
    public const string HttpStatusCodeAttribute = "http.response.status_code";

    /// <summary>On a failed span: the exception's type name (OpenTelemetry's <c>error.type</c>); the message is never recorded.</summary>
    public const string ErrorTypeAttribute = "error.type";

    /// <summary>Core's source; other packages create their own instance with the same name.</summary>
    internal static readonly ActivitySource Source = new(ActivitySourceName, typeof(TenantTracing).Assembly.GetName().Version?.ToString());

    /// <summary>Marks <paramref name="activity"/> failed with the exception's type name, never its message (it may carry user data).</summary>
    /// <param name="activity">The span, or <see langword="null"/> when nobody listens.</param>
    /// <param name="exception">What failed.</param>
    public static void RecordFailure(Activity? activity, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (activity is null)
        {
            return;
        }

        string type = exception.GetType().Name;
        activity.SetStatus(ActivityStatusCode.Error, type);
        activity.SetTag(ErrorTypeAttribute, type);
    }
}
