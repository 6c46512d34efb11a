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
/// <item>Packages that receive or deliver webhooks add their own spans on the same source (their READMEs list them).</item>
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
