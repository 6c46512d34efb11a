using Microsoft.Extensions.Options;

namespace MultiTenant.Inbox;

/// <summary>How a tenant's inbox is delivered to its handlers (<see cref="TenantInboxConsumer"/>). Validated when the host starts.</summary>
public sealed class InboxDeliveryOptions
{
    /// <summary>The configuration section the options bind from: <c>WhatsAppTenants:Inbox</c>.</summary>
    public const string SectionName = "WhatsAppTenants:Inbox";

    /// <summary>Attempts of one item before it becomes a dead letter. Default 10; 1–1000.</summary>
    public int MaxAttempts { get; set; } = 10;

    /// <summary>The wait before the first retry of a failed item; it doubles with every attempt, with jitter. Default 1 s; 10 ms–1 h.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two attempts of an item. Default 5 minutes; 10 ms–1 day.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How often a consumer looks for items without a notification (the polling fallback of LISTEN/NOTIFY). Default 5 s; 10 ms–10 minutes.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Items claimed at once (a batch is delivered in order, one item at a time). Default 32; 1–1000.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>How long handled items are kept to absorb redeliveries of their key (then purged). Default 7 days; 1 minute–365 days.</summary>
    public TimeSpan CompletedRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// The wait before attempt <paramref name="attempt"/> + 1 of an item: <see cref="RetryBaseDelay"/> doubled per attempt, capped at
    /// <see cref="RetryMaxDelay"/>, of which the second half is random (so the wait is between half the step and the full step).
    /// </summary>
    /// <param name="attempt">The attempts made so far (1 after the first failure).</param>
    /// <param name="random">The source of jitter; default <see cref="Random.Shared"/>.</param>
    public TimeSpan RetryDelay(int attempt, Random? random = null)
    {
        double step = RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Clamp(attempt - 1, 0, 40));
        double capped = Math.Min(step, RetryMaxDelay.TotalMilliseconds);
        double half = capped / 2;
        return TimeSpan.FromMilliseconds(half + ((random ?? Random.Shared).NextDouble() * half));
    }
}

/// <summary>Checks the bounds documented on <see cref="InboxDeliveryOptions"/>.</summary>
internal sealed class InboxDeliveryOptionsValidator : IValidateOptions<InboxDeliveryOptions>
{
    public ValidateOptionsResult Validate(string? name, InboxDeliveryOptions options)
    {
        var failures = new List<string>();
        Check(options.MaxAttempts is >= 1 and <= 1000, "MaxAttempts must be between 1 and 1000.");
        Check(options.BatchSize is >= 1 and <= 1000, "BatchSize must be between 1 and 1000.");
        Check(Within(options.RetryBaseDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1)), "RetryBaseDelay must be between 10 ms and 1 hour.");
        Check(Within(options.RetryMaxDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromDays(1)), "RetryMaxDelay must be between 10 ms and 1 day.");
        Check(options.RetryMaxDelay >= options.RetryBaseDelay, "RetryMaxDelay must not be shorter than RetryBaseDelay.");
        Check(Within(options.PollInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10)), "PollInterval must be between 10 ms and 10 minutes.");
        Check(Within(options.CompletedRetention, TimeSpan.FromMinutes(1), TimeSpan.FromDays(365)), "CompletedRetention must be between 1 minute and 365 days.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);

        void Check(bool ok, string failure)
        {
            if (!ok)
            {
                failures.Add("WhatsAppTenants:Inbox: " + failure);
            }
        }
    }

    private static bool Within(TimeSpan value, TimeSpan min, TimeSpan max) => value >= min && value <= max;
}
