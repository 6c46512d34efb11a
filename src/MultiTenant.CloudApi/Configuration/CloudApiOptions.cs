using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace MultiTenant.CloudApi;

/// <summary>
/// Options of the WhatsApp Business Cloud API client, bound from the <c>WhatsAppTenants:CloudApi</c> configuration section and
/// validated when the host starts.
/// </summary>
public sealed class CloudApiOptions
{
    /// <summary>The configuration section the options bind to: <c>WhatsAppTenants:CloudApi</c>.</summary>
    public const string SectionName = "WhatsAppTenants:CloudApi";

    /// <summary>
    /// The name of the <see cref="System.Net.Http.HttpClient"/> used for Graph API calls (<c>MultiTenant.CloudApi</c>), to configure it
    /// further with <c>services.AddHttpClient(CloudApiOptions.HttpClientName)</c> (a proxy, resilience handlers, or
    /// <c>.AddDefaultLogger()</c> to bring back the per-request logs, which are off by default; the Authorization header is redacted).
    /// </summary>
    public const string HttpClientName = "MultiTenant.CloudApi";

    /// <summary>
    /// The Graph API's base address. Default <c>https://graph.facebook.com</c>; point it elsewhere for a proxy or a test double.
    /// Must be an absolute http or https URI.
    /// </summary>
    [Required]
    public Uri GraphBaseUrl { get; set; } = new("https://graph.facebook.com");

    /// <summary>The Graph API version in request paths, such as <c>v21.0</c>. Default <c>v21.0</c>; must look like <c>vNN.N</c>.</summary>
    [Required(AllowEmptyStrings = false)]
    [RegularExpression(@"^v[0-9]{1,3}\.[0-9]{1,3}$")]
    public string GraphApiVersion { get; set; } = "v21.0";

    /// <summary>
    /// The Meta app's secret: the key of the <c>X-Hub-Signature-256</c> HMAC on every webhook delivery. No default; required by
    /// <c>MapCloudApiWebhook()</c>. A secret: it is never logged.
    /// </summary>
    public string? AppSecret { get; set; }

    /// <summary>
    /// The verify token you type into the Meta app's webhook settings; the verification handshake (<c>hub.verify_token</c>) must
    /// match it. No default; required by <c>MapCloudApiWebhook()</c>.
    /// </summary>
    public string? VerifyToken { get; set; }

    /// <summary>
    /// The default app's previous secret during a rotation: deliveries signed with it are accepted next to <see cref="AppSecret"/>
    /// until it is removed. Optional; a secret: it is never logged.
    /// </summary>
    public string? PreviousAppSecret { get; set; }

    /// <summary>
    /// Further Meta apps, for a platform whose businesses come from several apps: each app's webhook callback URL is
    /// <c>{webhook path}/{app_id}</c>, whose deliveries are checked against that app's secrets only (a delivery signed with another
    /// app's secret gets 401) and whose handshake against its verify token. Empty by default; bound from
    /// <c>WhatsAppTenants:CloudApi:Apps:{n}:…</c>. With apps configured, <see cref="AppSecret"/> and <see cref="VerifyToken"/> are
    /// optional (the webhook path without an app id then answers 404).
    /// </summary>
    public List<CloudApiMetaApp> Apps { get; set; } = [];

    /// <summary>
    /// The per-tenant send rate limit in messages per second (Meta's default throughput of a business phone number is 80).
    /// Default 80; 1 to 1,000. Sends beyond it wait their turn (up to <see cref="MaxSendWait"/>).
    /// </summary>
    [Range(1, 1000)]
    public int MessagesPerSecond { get; set; } = 80;

    /// <summary>
    /// Per-tenant throughput tiers: <c>business_id</c> → messages per second (1 to 1,000), for numbers Meta moved to a higher tier
    /// (or a tenant held to a lower rate). A tenant not listed sends at <see cref="MessagesPerSecond"/>. Empty by default; bound from
    /// <c>WhatsAppTenants:CloudApi:TenantMessagesPerSecond:{business_id}</c>. Read when the tenant's client is created (at start).
    /// </summary>
    public Dictionary<string, int> TenantMessagesPerSecond { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How long a tenant's template list (<see cref="ICloudApiMessaging.GetTemplatesAsync"/>) is cached. Default 5 minutes;
    /// zero to 1 day (zero: not cached).</summary>
    public TimeSpan TemplateCacheDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The send rate of <paramref name="tenant"/>: its entry in <see cref="TenantMessagesPerSecond"/>, else <see cref="MessagesPerSecond"/>.</summary>
    /// <param name="tenant">The tenant.</param>
    public int MessagesPerSecondFor(TenantId tenant) =>
        TenantMessagesPerSecond.TryGetValue(tenant.Value, out int rate) ? rate : MessagesPerSecond;

    /// <summary>
    /// How many sends may go out back to back before the rate limit spaces them. Default 1 (strict spacing of
    /// 1/<see cref="MessagesPerSecond"/>); 1 to 1,000.
    /// </summary>
    [Range(1, 1000)]
    public int RateLimitBurst { get; set; } = 1;

    /// <summary>
    /// The minimum time between two sends to the same recipient. Default <see cref="TimeSpan.Zero"/> (off: Meta accepts short bursts
    /// to one user and reports its pair rate limit with error 131056, which delays that recipient by
    /// <see cref="RecipientThrottleDelay"/>); 0 to 1 minute.
    /// </summary>
    public TimeSpan RecipientSpacing { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// How long sends to one recipient are held back after Graph error 131056 (pair rate limit: too many messages to the same
    /// user). Other recipients are not affected. Default 6 s (Meta allows about one message every 6 s per pair); 0 to 10 minutes.
    /// </summary>
    public TimeSpan RecipientThrottleDelay { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>
    /// How long all sends of a tenant are held back after Graph error 4 (app call rate limit) or 80007 (WhatsApp Business Account
    /// rate limit); error 130429 (throughput limit) holds them back for 1 s. Default 60 s; 0 to 1 hour.
    /// </summary>
    public TimeSpan ThrottlePause { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The longest a send waits for the tenant's rate limit or a recipient's spacing. A send that would wait longer fails at once
    /// with a transient <see cref="Clients.TenantSendException"/> carrying <c>RetryAfter</c> (HTTP 429 with Retry-After through the
    /// tenant API). Default 10 s; 0 to 5 minutes.
    /// </summary>
    public TimeSpan MaxSendWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one Graph API request may take. Default 30 s; 1 s to 5 minutes.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long one media upload or download may take until Graph answered (an upload: until the whole file was sent and Graph replied;
    /// a download: until the file's headers arrived). Default 10 minutes; 1 s to 1 hour.
    /// </summary>
    public TimeSpan MediaRequestTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The largest webhook body accepted, in bytes; larger deliveries get 413. Default 1 MiB; 1 KiB to 16 MiB.</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxWebhookBodySize { get; set; } = 1024 * 1024;

    /// <summary>
    /// The most webhook items (messages and statuses, all numbers together) kept for phone number ids that no tenant holds yet, for
    /// example a delivery that raced the tenant's credential setup: they move into the tenant's inbox when its credentials are set
    /// with that number. When the bound is reached, further deliveries for unknown numbers are answered 503 (Meta delivers them again
    /// later) and counted as <c>refused</c> on <c>whatsmeow.inbox.items</c>. Default 10,000; 0 (keep none) to 1,000,000.
    /// </summary>
    [Range(0, 1_000_000)]
    public int UnroutedCapacity { get; set; } = 10_000;
}

[OptionsValidator]
internal sealed partial class CloudApiOptionsValidator : IValidateOptions<CloudApiOptions>
{
}

/// <summary>The rules the attributes cannot express: absolute URI, time ranges, secrets that are set but blank.</summary>
internal sealed class CloudApiOptionsCrossValidator : IValidateOptions<CloudApiOptions>
{
    public ValidateOptionsResult Validate(string? name, CloudApiOptions options)
    {
        var failures = new List<string>();
        if (options.GraphBaseUrl is { } url
            && (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp) || !string.IsNullOrEmpty(url.Query)))
        {
            failures.Add($"{CloudApiOptions.SectionName}:{nameof(options.GraphBaseUrl)} must be an absolute http or https URI without a query.");
        }

        if (options.AppSecret is not null && string.IsNullOrWhiteSpace(options.AppSecret))
        {
            failures.Add($"{CloudApiOptions.SectionName}:{nameof(options.AppSecret)} is set but blank.");
        }

        if (options.VerifyToken is not null && string.IsNullOrWhiteSpace(options.VerifyToken))
        {
            failures.Add($"{CloudApiOptions.SectionName}:{nameof(options.VerifyToken)} is set but blank.");
        }

        if (options.PreviousAppSecret is not null && (string.IsNullOrWhiteSpace(options.PreviousAppSecret) || options.AppSecret is null))
        {
            failures.Add($"{CloudApiOptions.SectionName}:{nameof(options.PreviousAppSecret)} is set but blank, or without {nameof(options.AppSecret)}.");
        }

        ValidateApps(failures, options.Apps);

        foreach (var (tenant, rate) in options.TenantMessagesPerSecond)
        {
            if (!TenantId.TryParse(tenant, out _) || rate is < 1 or > 1000)
            {
                failures.Add($"{CloudApiOptions.SectionName}:{nameof(options.TenantMessagesPerSecond)}:{tenant} must be a valid business_id with a rate of 1 to 1,000 messages per second; it is {rate}.");
            }
        }

        Check(failures, nameof(options.TemplateCacheDuration), options.TemplateCacheDuration, TimeSpan.Zero, TimeSpan.FromDays(1));
        Check(failures, nameof(options.RecipientSpacing), options.RecipientSpacing, TimeSpan.Zero, TimeSpan.FromMinutes(1));
        Check(failures, nameof(options.RecipientThrottleDelay), options.RecipientThrottleDelay, TimeSpan.Zero, TimeSpan.FromMinutes(10));
        Check(failures, nameof(options.ThrottlePause), options.ThrottlePause, TimeSpan.Zero, TimeSpan.FromHours(1));
        Check(failures, nameof(options.MaxSendWait), options.MaxSendWait, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        Check(failures, nameof(options.RequestTimeout), options.RequestTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5));
        Check(failures, nameof(options.MediaRequestTimeout), options.MediaRequestTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }

    private static void ValidateApps(List<string> failures, List<CloudApiMetaApp> apps)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < apps.Count; i++)
        {
            var app = apps[i];
            string name = $"{CloudApiOptions.SectionName}:{nameof(CloudApiOptions.Apps)}:{i}";
            if (app is null || string.IsNullOrEmpty(app.AppId) || app.AppId.Length > 64
                || !app.AppId.All(static c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                failures.Add($"{name}:{nameof(CloudApiMetaApp.AppId)} must be 1 to 64 of 0-9 a-z A-Z _ -.");
                continue;
            }

            if (!ids.Add(app.AppId))
            {
                failures.Add($"{name}:{nameof(CloudApiMetaApp.AppId)} '{app.AppId}' is listed twice.");
            }

            if (string.IsNullOrWhiteSpace(app.AppSecret) || string.IsNullOrWhiteSpace(app.VerifyToken)
                || (app.PreviousAppSecret is not null && string.IsNullOrWhiteSpace(app.PreviousAppSecret)))
            {
                failures.Add($"{name} (app {app.AppId}) needs an {nameof(CloudApiMetaApp.AppSecret)} and a {nameof(CloudApiMetaApp.VerifyToken)}; a {nameof(CloudApiMetaApp.PreviousAppSecret)}, when set, must not be blank.");
            }
        }
    }

    private static void Check(List<string> failures, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add($"{CloudApiOptions.SectionName}:{name} must be between {min} and {max}; it is {value}.");
        }
    }
}
