namespace MultiTenant.AspNetCore.Security;

/// <summary>
/// Rate limits of the tenant API (<c>MapTenantApi()</c>'s group), bound from <c>WhatsAppTenants:Api:RateLimits</c> (code configured
/// with <c>services.Configure&lt;TenantApiRateLimitOptions&gt;(...)</c> wins). Each caller has its own token bucket: the admin key one,
/// each tenant key one (by key id), and each client address one for requests without a valid key (IPv6 addresses by their /64).
/// A request over the limit is answered 429 problem details (<c>error_code</c> <c>rate_limited</c>) with <c>Retry-After</c>.
/// Limits are per host process: a fleet of N hosts admits up to N times as much. Health endpoints are never limited.
/// </summary>
public sealed class TenantApiRateLimitOptions
{
    /// <summary>The configuration section: <c>WhatsAppTenants:Api:RateLimits</c>.</summary>
    public const string SectionName = "WhatsAppTenants:Api:RateLimits";

    /// <summary>The name of the rate limiter policy that <c>MapTenantApi()</c>'s group requires: <c>WhatsAppTenants.Api</c>.</summary>
    public const string PolicyName = "WhatsAppTenants.Api";

    /// <summary>
    /// Whether the API is rate limited. Default true; the host must then call <c>app.UseRateLimiter()</c> (the API answers 500 and logs
    /// why until it does). False: no limits, and no middleware needed.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The admin key's bucket. Default 1,000 requests a second, bursts of 2,000.</summary>
    public TenantApiRateLimit Admin { get; set; } = new() { PermitsPerSecond = 1000, Burst = 2000 };

    /// <summary>Each tenant key's bucket. Default 50 requests a second, bursts of 100.</summary>
    public TenantApiRateLimit TenantKey { get; set; } = new() { PermitsPerSecond = 50, Burst = 100 };

    /// <summary>
    /// Each client address's bucket for requests without a valid key. Default 10 requests a second, bursts of 20. Such requests reach
    /// the limiter only when it runs before authorization (<c>app.UseAuthentication(); app.UseRateLimiter(); app.UseAuthorization();</c>)
    /// with the API key scheme as the default scheme (<c>AddAuthentication(TenantApiAuthentication.Scheme)</c>, so that
    /// <c>UseAuthentication()</c> reads the key); otherwise they are answered 401 before it.
    /// </summary>
    public TenantApiRateLimit Anonymous { get; set; } = new() { PermitsPerSecond = 10, Burst = 20 };

    /// <summary>Throws when a limit is out of its documented range.</summary>
    internal void Validate()
    {
        Admin.Validate(nameof(Admin));
        TenantKey.Validate(nameof(TenantKey));
        Anonymous.Validate(nameof(Anonymous));
    }
}

/// <summary>One token bucket of <see cref="TenantApiRateLimitOptions"/>: a steady rate and the burst allowed above it.</summary>
public sealed class TenantApiRateLimit
{
    /// <summary>Requests a second the bucket refills with, 1 to 1,000,000.</summary>
    public int PermitsPerSecond { get; set; }

    /// <summary>The most requests admitted at once after a quiet spell (the bucket's size), 1 to 1,000,000.</summary>
    public int Burst { get; set; }

    internal void Validate(string name)
    {
        if (PermitsPerSecond is < 1 or > 1_000_000 || Burst is < 1 or > 1_000_000)
        {
            throw new InvalidOperationException(
                $"TenantApiRateLimitOptions.{name} must have PermitsPerSecond and Burst between 1 and 1,000,000; they are {PermitsPerSecond} and {Burst}.");
        }
    }
}
