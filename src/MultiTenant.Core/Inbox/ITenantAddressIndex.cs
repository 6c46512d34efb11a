namespace MultiTenant.Inbox;

/// <summary>
/// The durable index of provider addresses (for example a Cloud API <c>phone_number_id</c>) to the tenant that uses them, shared by
/// every host: a webhook delivery names an address, and the index says which tenant it belongs to. One address belongs to at most
/// one tenant: of concurrent claims of a free address exactly one wins.
/// </summary>
/// <remarks>
/// The embedded store keeps it in process memory (<see cref="InMemoryTenantAddressIndex"/>, not durable); PostgreSQL keeps it in a
/// table with a unique key (<c>UsePostgreSql()</c>). Reads never claim anything. Thread-safe.
/// </remarks>
public interface ITenantAddressIndex
{
    /// <summary>Claims <paramref name="address"/> for <paramref name="tenant"/>, unless another tenant holds it.</summary>
    /// <returns>
    /// <see cref="AddressClaimResult.Claimed"/> when the address was free and is now the tenant's; <see cref="AddressClaimResult.AlreadyHeld"/>
    /// when the tenant held it already; <see cref="AddressClaimResult.HeldByAnotherTenant"/> when another tenant holds it (nothing changed).
    /// </returns>
    ValueTask<AddressClaimResult> ClaimAsync(TenantAddress address, TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>Releases <paramref name="address"/> if <paramref name="tenant"/> holds it. Returns whether it did.</summary>
    ValueTask<bool> ReleaseAsync(TenantAddress address, TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>The tenant holding <paramref name="address"/>, or <see langword="null"/> when it is free.</summary>
    ValueTask<TenantId?> FindAsync(TenantAddress address, CancellationToken cancellationToken = default);

    /// <summary>The addresses of <paramref name="provider"/> that <paramref name="tenant"/> holds, in ordinal order.</summary>
    ValueTask<IReadOnlyList<TenantAddress>> ListAsync(TenantId tenant, string provider, CancellationToken cancellationToken = default);
}

/// <summary>The outcome of <see cref="ITenantAddressIndex.ClaimAsync"/>.</summary>
public enum AddressClaimResult
{
    /// <summary>The address was free and now belongs to the tenant.</summary>
    Claimed = 0,

    /// <summary>The tenant held the address already.</summary>
    AlreadyHeld = 1,

    /// <summary>Another tenant holds the address; nothing changed.</summary>
    HeldByAnotherTenant = 2,
}

/// <summary>
/// A provider address: the provider's name (<c>cloudapi</c>, …: 1–64 characters of <c>a-z 0-9 . _ -</c>) and the address within it
/// (1–255 characters without control characters, compared ordinally).
/// </summary>
public sealed record TenantAddress
{
    /// <summary>Validates and creates an address.</summary>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">An argument breaks the rules above.</exception>
    public TenantAddress(string provider, string value)
    {
        InboxNames.ThrowIfInvalidName(provider, nameof(provider));
        InboxNames.ThrowIfInvalidKey(value, nameof(value));
        Provider = provider;
        Value = value;
    }

    /// <summary>The provider's name.</summary>
    public string Provider { get; }

    /// <summary>The address within the provider.</summary>
    public string Value { get; }

    /// <inheritdoc />
    public override string ToString() => Provider + ":" + Value;
}

/// <summary>The validation rules shared by the inbox, the address index and the outbox, so every backend accepts the same values.</summary>
public static class InboxNames
{
    /// <summary>The maximum length of a key (an address, an inbox item key, an event id): 255.</summary>
    public const int MaxKeyLength = 255;

    /// <summary>The maximum length of a name (a provider, a source, a kind, an event type): 64.</summary>
    public const int MaxNameLength = 64;

    /// <summary>Validates a name: 1–64 characters of <c>a-z 0-9 . _ -</c>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="value"/> breaks the rule.</exception>
    public static void ThrowIfInvalidName(string value, string paramName)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        if (value.Length is 0 or > MaxNameLength)
        {
            throw new ArgumentException($"A {paramName} must be 1 to {MaxNameLength} characters long.", paramName);
        }

        foreach (char c in value)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '_' or '-'))
            {
                throw new ArgumentException($"A {paramName} may contain only a-z, 0-9, '.', '_' and '-'.", paramName);
            }
        }
    }

    /// <summary>Validates a key: 1–255 characters without control characters (U+0000 included) or lone surrogates.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="value"/> breaks the rule.</exception>
    public static void ThrowIfInvalidKey(string value, string paramName)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        if (value.Length is 0 or > MaxKeyLength)
        {
            throw new ArgumentException($"A {paramName} must be 1 to {MaxKeyLength} characters long.", paramName);
        }

        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (char.IsControl(c))
            {
                throw new ArgumentException($"A {paramName} must not contain control characters.", paramName);
            }

            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                throw new ArgumentException($"A {paramName} must not contain a lone surrogate.", paramName);
            }
        }
    }

    internal static void ThrowIfDefault(TenantId tenant, string paramName = "tenant")
    {
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) names no tenant; use TenantId.Parse.", paramName);
        }
    }
}
