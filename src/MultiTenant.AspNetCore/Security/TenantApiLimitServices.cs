using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MultiTenant.AspNetCore.Security;

/// <summary>The services of the API's limits that <c>AddTenantApi()</c> registers: the rate limiter policy and its options.</summary>
internal static class TenantApiLimitServices
{
    public static void Add(IServiceCollection services)
    {
        // Configuration first, so code (services.Configure<TenantApiRateLimitOptions>) wins over it.
        services.AddSingleton<IConfigureOptions<TenantApiRateLimitOptions>>(
            static sp => new BindRateLimitsFromConfiguration(sp.GetService<IConfiguration>()));
        services.AddRateLimiter(static limiter =>
            limiter.AddPolicy<string, TenantApiRateLimitPolicy>(TenantApiRateLimitOptions.PolicyName));
    }

    private sealed class BindRateLimitsFromConfiguration(IConfiguration? configuration) : IConfigureOptions<TenantApiRateLimitOptions>
    {
        public void Configure(TenantApiRateLimitOptions options) =>
            configuration?.GetSection(TenantApiRateLimitOptions.SectionName).Bind(options);
    }
}
