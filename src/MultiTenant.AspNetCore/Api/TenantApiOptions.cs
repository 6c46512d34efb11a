namespace MultiTenant.AspNetCore;

/// <summary>
/// Options of the tenant REST API mapped by <c>MapTenantApi()</c>. Configure them with
/// <c>services.Configure&lt;TenantApiOptions&gt;(o =&gt; ...)</c>; they are read and checked once, when the API is mapped.
/// </summary>
public sealed class TenantApiOptions
{
    /// <summary>The default of <see cref="MaxRequestBodySize"/>: 64 KiB.</summary>
    public const int DefaultMaxRequestBodySize = 64 * 1024;

    /// <summary>The default of <see cref="MaxMessageLength"/>: 4,096 characters.</summary>
    public const int DefaultMaxMessageLength = 4096;

    /// <summary>
    /// The largest request body accepted, in bytes; a larger body is answered 413. Enforced by the API while it reads the body, whatever
    /// the server's own limit. Default 64 KiB (<see cref="DefaultMaxRequestBodySize"/>); 1 byte to 16 MiB.
    /// </summary>
    public int MaxRequestBodySize { get; set; } = DefaultMaxRequestBodySize;

    /// <summary>
    /// The longest <c>text</c> of a message sent through <c>POST {prefix}/{business_id}/messages</c>, in UTF-16 characters.
    /// Default 4,096 (<see cref="DefaultMaxMessageLength"/>); 1 to 65,536.
    /// </summary>
    public int MaxMessageLength { get; set; } = DefaultMaxMessageLength;

    /// <summary>
    /// Whether tenant statuses carry <c>host</c>, the id of the host that owns the tenant (useful with several hosts). Default false.
    /// </summary>
    public bool IncludeHost { get; set; }

    /// <summary>Throws when an option is out of its documented range.</summary>
    internal void Validate()
    {
        if (MaxRequestBodySize is < 1 or > 16 * 1024 * 1024)
        {
            throw new InvalidOperationException(
                $"TenantApiOptions.MaxRequestBodySize must be between 1 byte and 16 MiB; it is {MaxRequestBodySize}.");
        }

        if (MaxMessageLength is < 1 or > 65_536)
        {
            throw new InvalidOperationException(
                $"TenantApiOptions.MaxMessageLength must be between 1 and 65,536; it is {MaxMessageLength}.");
        }
    }
}
