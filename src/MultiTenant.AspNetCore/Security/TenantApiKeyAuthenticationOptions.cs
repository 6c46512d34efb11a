using Microsoft.AspNetCore.Authentication;

namespace MultiTenant.AspNetCore.Security;

/// <summary>Options of the API key scheme (<see cref="TenantApiAuthentication.Scheme"/>).</summary>
public sealed class TenantApiKeyAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>The configuration key of <see cref="AdminKey"/>: <c>WhatsAppTenants:Api:AdminKey</c>.</summary>
    public const string AdminKeyConfigurationKey = "WhatsAppTenants:Api:AdminKey";

    /// <summary>
    /// The admin key, which may do everything (from <c>WhatsAppTenants:Api:AdminKey</c> unless set in code). Null or empty: no admin
    /// key is accepted (tenant keys still are, but nobody can create them).
    /// </summary>
    public string? AdminKey { get; set; }
}
