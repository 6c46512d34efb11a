using Microsoft.Extensions.Options;

namespace MultiTenant.Webhooks;

/// <summary>How outbound webhooks are delivered. Bound from <see cref="SectionName"/>; validated when the host starts.</summary>
public sealed class WebhookDeliveryOptions
{
    /// <summary>The configuration section the options bind from: <c>WhatsAppTenants:Webhooks</c>.</summary>
    public const string SectionName = "WhatsAppTenants:Webhooks";

    /// <summary>
    /// Whether subscriptions may target loopback, private, link-local and other non-public addresses (<see cref="WebhookUrlPolicy"/>).
    /// Default <see langword="false"/>: turn it on only for tests and for receivers on a closed network you trust.
    /// </summary>
    public bool AllowPrivateTargets { get; set; }

    /// <summary>The timeout of one delivery attempt (connect, send, response headers). Default 10 s; 1 s–5 minutes.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The wait before the first retry; it doubles with every failure, with full jitter. Default 5 s; 10 ms–1 hour.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest wait between two attempts. Default 1 hour; 10 ms–1 day, not below <see cref="RetryBaseDelay"/>.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long an event is retried, from when it was queued, before it becomes a dead letter. Default 24 hours; 1 second–7 days.
    /// </summary>
    public TimeSpan RetryPeriod { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// Requests in flight at once to one endpoint (scheme, host and port), over all tenants: a slow endpoint holds at most this many
    /// of this host's senders, never another endpoint's. Default 4; 1–256.
    /// </summary>
    public int MaxConcurrentPerEndpoint { get; set; } = 4;

    /// <summary>How often the outbox is read for events due (retries, events left by another host). Default 5 s; 10 ms–10 minutes.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long delivered events are kept to absorb redeliveries of their id (then purged). Default 7 days; 1 minute–365 days.</summary>
    public TimeSpan DeliveredRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// How long a host remembers a tenant's subscription (or that it has none) to decide whether an event goes into the outbox, so a
    /// tenant without a subscription costs no store call per event. Every change is announced to every host
    /// (<see cref="IWebhookSubscriptionChanges"/>) and forgotten at once; this bound only matters if an announcement is lost.
    /// Default 1 minute; 0 (ask the store for every event, as with a store that announces no changes) to 1 hour.
    /// </summary>
    public TimeSpan SubscriptionCacheDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The wait before the next attempt after <paramref name="attempts"/> failed ones: uniformly random up to
    /// <see cref="RetryBaseDelay"/> · 2^(attempts−1), capped at <see cref="RetryMaxDelay"/> ("full jitter").
    /// </summary>
    /// <param name="attempts">The attempts made so far (1 after the first failure).</param>
    /// <param name="random">A uniformly distributed number in [0, 1).</param>
    public TimeSpan RetryDelay(int attempts, double random) =>
        Supervision.ReconnectBackoff.GetDelay(Math.Max(1, attempts), RetryBaseDelay, RetryMaxDelay, random);
}

/// <summary>Checks the bounds documented on <see cref="WebhookDeliveryOptions"/>.</summary>
internal sealed class WebhookDeliveryOptionsValidator : IValidateOptions<WebhookDeliveryOptions>
{
    public ValidateOptionsResult Validate(string? name, WebhookDeliveryOptions options)
    {
        var failures = new List<string>();
        Check(Within(options.Timeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5)), "Timeout must be between 1 second and 5 minutes.");
        Check(Within(options.RetryBaseDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1)), "RetryBaseDelay must be between 10 ms and 1 hour.");
        Check(Within(options.RetryMaxDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromDays(1)), "RetryMaxDelay must be between 10 ms and 1 day.");
        Check(options.RetryMaxDelay >= options.RetryBaseDelay, "RetryMaxDelay must not be shorter than RetryBaseDelay.");
        Check(Within(options.RetryPeriod, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7)), "RetryPeriod must be between 1 second and 7 days.");
        Check(options.MaxConcurrentPerEndpoint is >= 1 and <= 256, "MaxConcurrentPerEndpoint must be between 1 and 256.");
        Check(Within(options.PollInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10)), "PollInterval must be between 10 ms and 10 minutes.");
        Check(Within(options.SubscriptionCacheDuration, TimeSpan.Zero, TimeSpan.FromHours(1)), "SubscriptionCacheDuration must be between 0 and 1 hour.");
        Check(Within(options.DeliveredRetention, TimeSpan.FromMinutes(1), TimeSpan.FromDays(365)), "DeliveredRetention must be between 1 minute and 365 days.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);

        void Check(bool ok, string failure)
        {
            if (!ok)
            {
                failures.Add(WebhookDeliveryOptions.SectionName + ": " + failure);
            }
        }
    }

    private static bool Within(TimeSpan value, TimeSpan min, TimeSpan max) => value >= min && value <= max;
}
