using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace MultiTenant.Wuzapi;

/// <summary>
/// Options of the wuzapi client, bound from the <c>WhatsAppTenants:Wuzapi</c> configuration section and validated when the host starts.
/// </summary>
public sealed class WuzapiOptions
{
    /// <summary>The configuration section the options bind to: <c>WhatsAppTenants:Wuzapi</c>.</summary>
    public const string SectionName = "WhatsAppTenants:Wuzapi";

    /// <summary>
    /// The name of the <see cref="System.Net.Http.HttpClient"/> used for engine calls (<c>MultiTenant.Wuzapi</c>), to configure it further
    /// with <c>services.AddHttpClient(WuzapiOptions.HttpClientName)</c>. Its per-request logs are off; the tokens are never logged.
    /// </summary>
    public const string HttpClientName = "MultiTenant.Wuzapi";

    /// <summary>
    /// The engines, by name (1–64 characters of <c>a-z 0-9 . _ -</c>): <c>WhatsAppTenants:Wuzapi:Engines:{name}:BaseUrl</c> and
    /// <c>…:AdminToken</c>. At least one. A new tenant goes to the engine <see cref="TenantEngines"/> names for it, else to the next
    /// engine in round-robin order (ordinal order of the names); the choice is recorded with the tenant's engine user, so the tenant
    /// stays on its engine.
    /// </summary>
    public Dictionary<string, WuzapiEngineOptions> Engines { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Engine assignment by configuration: business id → engine name (<c>WhatsAppTenants:Wuzapi:TenantEngines:{business_id}</c>). Only
    /// new tenants are placed by it; a tenant with an engine user keeps its recorded engine. Empty by default.
    /// </summary>
    public Dictionary<string, string> TenantEngines { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Where the engines post webhooks: the absolute http(s) URL at which <c>MapWuzapiWebhook()</c> is reachable from the engines (for
    /// example <c>http://multitenant:8080/webhooks/wuzapi</c>); each tenant's engine user gets <c>{WebhookBaseUrl}/{business_id}</c>. Required.
    /// </summary>
    [Required]
    public Uri? WebhookBaseUrl { get; set; }

    /// <summary>
    /// The event types the engine users subscribe to (wuzapi's names). Default <c>Message</c>, <c>ReadReceipt</c>, <c>Presence</c>,
    /// <c>HistorySync</c>, <c>ChatPresence</c>.
    /// </summary>
    public List<string> Events { get; set; } = [.. WuzapiEventTypes.All];

    /// <summary>The timeout of one engine call. Default 30 s; 1 s to 10 min.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// While a tenant is not paired, how often its client asks the engine for the session status and the current QR code (or asks for a
    /// pairing code), and how long each challenge on the pairing board is shown as valid. Default 2 s; 100 ms to 1 min.
    /// </summary>
    public TimeSpan PairingPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a connect waits for the phone to pair before the tenant stops with <see cref="Clients.TenantFatalReason.NotPaired"/>
    /// (start it again to show a new QR code). Default 3 min, about as long as WhatsApp keeps offering QR codes; 1 s to 1 h.
    /// </summary>
    public TimeSpan PairingTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>The largest webhook body accepted (larger: 413). Default 1 MiB, the inbox's item limit; 1 KiB to 1 MiB.</summary>
    [Range(1024, 1024 * 1024)]
    public int MaxWebhookBodySize { get; set; } = 1024 * 1024;
}

/// <summary>One wuzapi engine.</summary>
public sealed class WuzapiEngineOptions
{
    /// <summary>The engine's base address, such as <c>http://wuzapi:8080</c>. Required; an absolute http or https URI without a query.</summary>
    [Required]
    public Uri? BaseUrl { get; set; }

    /// <summary>The engine's admin token (its <c>WUZAPI_ADMIN_TOKEN</c>), sent on <c>/admin/users</c> calls. Required; a secret, never logged.</summary>
    [Required(AllowEmptyStrings = false)]
    public string? AdminToken { get; set; }
}

/// <summary>The event types wuzapi posts to a user's webhook.</summary>
public static class WuzapiEventTypes
{
    /// <summary>A message (<c>events.Message</c>).</summary>
    public const string Message = "Message";

    /// <summary>A delivery or read receipt (<c>events.Receipt</c>).</summary>
    public const string ReadReceipt = "ReadReceipt";

    /// <summary>A contact came online or went offline (<c>events.Presence</c>).</summary>
    public const string Presence = "Presence";

    /// <summary>A history sync blob after pairing (<c>events.HistorySync</c>).</summary>
    public const string HistorySync = "HistorySync";

    /// <summary>A contact is typing or recording (<c>events.ChatPresence</c>).</summary>
    public const string ChatPresence = "ChatPresence";

    /// <summary>Every type above, in that order.</summary>
    public static IReadOnlyList<string> All { get; } = [Message, ReadReceipt, Presence, HistorySync, ChatPresence];
}

[OptionsValidator]
internal sealed partial class WuzapiOptionsValidator : IValidateOptions<WuzapiOptions>
{
}

/// <summary>The rules the attributes cannot express: at least one engine, names, absolute URIs, assignments to known engines, time ranges.</summary>
internal sealed class WuzapiOptionsCrossValidator : IValidateOptions<WuzapiOptions>
{
    public ValidateOptionsResult Validate(string? name, WuzapiOptions options)
    {
        var failures = new List<string>();
        if (options.Engines.Count == 0)
        {
            failures.Add($"{WuzapiOptions.SectionName}:{nameof(options.Engines)} needs at least one engine (…:Engines:{{name}}:BaseUrl and …:AdminToken).");
        }

        foreach (var (engine, value) in options.Engines)
        {
            if (!IsName(engine))
            {
                failures.Add($"{WuzapiOptions.SectionName}:{nameof(options.Engines)}: the engine name '{engine}' must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-'.");
            }

            if (value is null || !IsHttpUri(value.BaseUrl))
            {
                failures.Add($"{WuzapiOptions.SectionName}:{nameof(options.Engines)}:{engine}:{nameof(WuzapiEngineOptions.BaseUrl)} must be an absolute http or https URI without a query.");
            }

            if (value is null || string.IsNullOrWhiteSpace(value.AdminToken))
            {
                failures.Add($"{WuzapiOptions.SectionName}:{nameof(options.Engines)}:{engine}:{nameof(WuzapiEngineOptions.AdminToken)} is required.");
            }
        }

        foreach (var (tenant, engine) in options.TenantEngines)
        {
            if (!options.Engines.ContainsKey(engine ?? string.Empty))
            {
                failures.Add($"{WuzapiOptions.SectionName}:{nameof(options.TenantEngines)}:{tenant} names the engine '{engine}', which is not configured.");
            }
        }

        if (options.WebhookBaseUrl is { } webhook && !IsHttpUri(webhook))
        {
            failures.Add($"{WuzapiOptions.SectionName}:{nameof(options.WebhookBaseUrl)} must be an absolute http or https URI without a query.");
        }

        Check(failures, nameof(options.RequestTimeout), options.RequestTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
        Check(failures, nameof(options.PairingPollInterval), options.PairingPollInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1));
        Check(failures, nameof(options.PairingTimeout), options.PairingTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        if (options.Events.Count == 0)
        {
            failures.Add($"{WuzapiOptions.SectionName}:{nameof(options.Events)} needs at least one event type.");
        }

        foreach (string type in options.Events)
        {
            if (!WuzapiEventTypes.All.Contains(type, StringComparer.Ordinal))
            {
                failures.Add($"{WuzapiOptions.SectionName}:{nameof(options.Events)}: '{type}' is not one of {string.Join(", ", WuzapiEventTypes.All)}.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(List<string> failures, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add($"{WuzapiOptions.SectionName}:{name} must be between {min} and {max}.");
        }
    }

    private static bool IsHttpUri(Uri? uri) =>
        uri is { IsAbsoluteUri: true } && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) && string.IsNullOrEmpty(uri.Query);

    private static bool IsName(string value)
    {
        try
        {
            MultiTenant.Inbox.InboxNames.ThrowIfInvalidName(value, "engine");
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
