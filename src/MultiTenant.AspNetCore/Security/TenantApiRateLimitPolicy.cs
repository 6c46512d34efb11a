using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.AspNetCore.Diagnostics;
using MultiTenant.AspNetCore.Http;

namespace MultiTenant.AspNetCore.Security;

/// <summary>
/// The rate limiter policy <see cref="TenantApiRateLimitOptions.PolicyName"/>: one token bucket per caller (the admin key, each
/// tenant key by id, each client address without a valid key), and 429 problem details with <c>Retry-After</c> when one is empty.
/// </summary>
internal sealed class TenantApiRateLimitPolicy : IRateLimiterPolicy<string>
{
    /// <summary>The <see cref="HttpContext.Items"/> key set when the policy ran, so the API knows the rate limiting middleware did.</summary>
    internal static readonly object InvokedKey = new();

    private readonly TokenBucketRateLimiterOptions _admin;
    private readonly TokenBucketRateLimiterOptions _tenantKey;
    private readonly TokenBucketRateLimiterOptions _anonymous;
    private readonly ILogger _logger;

    public TenantApiRateLimitPolicy(IOptions<TenantApiRateLimitOptions> options, ILoggerFactory loggers)
    {
        var limits = options.Value;
        limits.Validate();
        _admin = Bucket(limits.Admin);
        _tenantKey = Bucket(limits.TenantKey);
        _anonymous = Bucket(limits.Anonymous);
        _logger = loggers.CreateLogger("MultiTenant.AspNetCore.TenantApi");
        OnRejected = RejectAsync;
    }

    public Func<OnRejectedContext, CancellationToken, ValueTask> OnRejected { get; }

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        httpContext.Items[InvokedKey] = true;
        var user = httpContext.User;
        if (TenantApiAuthentication.IsAdmin(user))
        {
            return RateLimitPartition.GetTokenBucketLimiter("admin", _ => _admin);
        }

        if (user.FindFirst(TenantApiAuthentication.KeyIdClaim)?.Value is { } keyId)
        {
            return RateLimitPartition.GetTokenBucketLimiter("key:" + keyId, _ => _tenantKey);
        }

        return RateLimitPartition.GetTokenBucketLimiter("address:" + AddressPartition(httpContext.Connection.RemoteIpAddress), _ => _anonymous);
    }

    /// <summary>The partition of a client address: IPv4 as is, IPv6 by its /64 (one site), none as "unknown".</summary>
    internal static string AddressPartition(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        byte[] bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes).ToString() + "/64";
    }

    private async ValueTask RejectAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        var http = context.HttpContext;
        long seconds = Problems.SetRetryAfter(
            http, context.Lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan retryAfter) ? retryAfter : TimeSpan.FromSeconds(1));
        Log.RateLimited(_logger, http.Request.Method, http.Request.Path.Value ?? string.Empty, seconds);
        await Problems.WriteAsync(
            http,
            StatusCodes.Status429TooManyRequests,
            $"Too many requests from this caller; retry after {seconds} s.",
            "rate_limited").ConfigureAwait(false);
    }

    private static TokenBucketRateLimiterOptions Bucket(TenantApiRateLimit limit) => new()
    {
        TokenLimit = limit.Burst,
        TokensPerPeriod = limit.PermitsPerSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    };
}
