using System.Diagnostics.CodeAnalysis;

namespace MultiTenant;

/// <summary>
/// The identity of a tenant: a validated <c>business_id</c>.
/// </summary>
/// <remarks>
/// A business id is 1–64 characters of <c>a-z A-Z 0-9 . _ -</c> and starts with a letter or a digit.
/// Ids are case-sensitive and are never normalised: <c>Tenant1</c> and <c>tenant1</c> are two tenants.
/// It implements <see cref="ISpanParsable{TSelf}"/>, so ASP.NET Core binds a route value such as <c>{business_id}</c> to it directly
/// (an invalid id then fails binding with 400); the format provider is ignored.
/// </remarks>
public readonly struct TenantId : IEquatable<TenantId>, IComparable<TenantId>, ISpanParsable<TenantId>
{
    /// <summary>The maximum length of a business id (64).</summary>
    public const int MaxLength = 64;

    private readonly string? _value;

    private TenantId(string value) => _value = value;

    /// <summary>The business id. <see cref="string.Empty"/> only for <c>default(TenantId)</c>.</summary>
    public string Value => _value ?? string.Empty;

    /// <summary>Whether this is <c>default(TenantId)</c>, which names no tenant.</summary>
    public bool IsDefault => _value is null;

    /// <summary>Validates <paramref name="businessId"/> and wraps it.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="businessId"/> is null.</exception>
    /// <exception cref="InvalidTenantIdException"><paramref name="businessId"/> is not a valid business id.</exception>
    public static TenantId Parse(string businessId)
    {
        ArgumentNullException.ThrowIfNull(businessId);
        string? problem = Validate(businessId);
        if (problem is not null)
        {
            throw new InvalidTenantIdException(businessId, problem);
        }

        return new TenantId(businessId);
    }

    /// <summary>Validates <paramref name="businessId"/> without throwing.</summary>
    /// <returns><see langword="true"/> when the id is valid.</returns>
    public static bool TryParse([NotNullWhen(true)] string? businessId, out TenantId tenantId)
    {
        if (businessId is not null && Validate(businessId) is null)
        {
            tenantId = new TenantId(businessId);
            return true;
        }

        tenantId = default;
        return false;
    }

    /// <summary>Validates <paramref name="s"/> and wraps it (<see cref="IParsable{TSelf}"/>); <paramref name="provider"/> is ignored.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="s"/> is null.</exception>
    /// <exception cref="InvalidTenantIdException"><paramref name="s"/> is not a valid business id.</exception>
    public static TenantId Parse(string s, IFormatProvider? provider) => Parse(s);

    /// <summary>Validates <paramref name="s"/> without throwing (<see cref="IParsable{TSelf}"/>); <paramref name="provider"/> is ignored.</summary>
    /// <returns><see langword="true"/> when the id is valid.</returns>
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out TenantId result) => TryParse(s, out result);

    /// <summary>Validates <paramref name="s"/> and wraps a copy of it (<see cref="ISpanParsable{TSelf}"/>); <paramref name="provider"/> is ignored.</summary>
    /// <exception cref="InvalidTenantIdException"><paramref name="s"/> is not a valid business id.</exception>
    public static TenantId Parse(ReadOnlySpan<char> s, IFormatProvider? provider) => Parse(s.ToString());

    /// <summary>
    /// Validates <paramref name="s"/> without throwing (<see cref="ISpanParsable{TSelf}"/>), allocating the id's string only when it is
    /// valid; <paramref name="provider"/> is ignored.
    /// </summary>
    /// <returns><see langword="true"/> when the id is valid.</returns>
    public static bool TryParse(ReadOnlySpan<char> s, IFormatProvider? provider, out TenantId result)
    {
        if (Validate(s) is null)
        {
            result = new TenantId(s.ToString());
            return true;
        }

        result = default;
        return false;
    }

    /// <summary>
    /// Returns why <paramref name="businessId"/> is not a valid business id, or <see langword="null"/> when it is.
    /// The message never repeats the id itself, so it is safe to return to a caller.
    /// </summary>
    public static string? Validate(string? businessId) => businessId is null ? "The business id must not be empty." : Validate(businessId.AsSpan());

    /// <summary>
    /// Returns why <paramref name="businessId"/> is not a valid business id, or <see langword="null"/> when it is.
    /// The message never repeats the id itself, so it is safe to return to a caller.
    /// </summary>
    public static string? Validate(ReadOnlySpan<char> businessId)
    {
        if (businessId.IsEmpty)
        {
            return "The business id must not be empty.";
        }

        if (businessId.Length > MaxLength)
        {
            return $"The business id must be at most {MaxLength} characters long; it has {businessId.Length}.";
        }

        if (!char.IsAsciiLetterOrDigit(businessId[0]))
        {
            return "The business id must start with a letter (a-z, A-Z) or a digit (0-9).";
        }

        for (int i = 1; i < businessId.Length; i++)
        {
            char c = businessId[i];
            if (!char.IsAsciiLetterOrDigit(c) && c != '.' && c != '_' && c != '-')
            {
                return $"The business id may contain only a-z, A-Z, 0-9, '.', '_' and '-'; the character at position {i + 1} is not allowed.";
            }
        }

        return null;
    }

    /// <inheritdoc />
    public bool Equals(TenantId other) => string.Equals(_value, other._value, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is TenantId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => _value is null ? 0 : StringComparer.Ordinal.GetHashCode(_value);

    /// <inheritdoc />
    public int CompareTo(TenantId other) => string.CompareOrdinal(_value, other._value);

    /// <summary>The business id.</summary>
    public override string ToString() => Value;

    /// <summary>Equality by ordinal comparison of the business ids.</summary>
    public static bool operator ==(TenantId left, TenantId right) => left.Equals(right);

    /// <summary>Inequality by ordinal comparison of the business ids.</summary>
    public static bool operator !=(TenantId left, TenantId right) => !left.Equals(right);

    /// <summary>Ordinal ordering.</summary>
    public static bool operator <(TenantId left, TenantId right) => left.CompareTo(right) < 0;

    /// <summary>Ordinal ordering.</summary>
    public static bool operator <=(TenantId left, TenantId right) => left.CompareTo(right) <= 0;

    /// <summary>Ordinal ordering.</summary>
    public static bool operator >(TenantId left, TenantId right) => left.CompareTo(right) > 0;

    /// <summary>Ordinal ordering.</summary>
    public static bool operator >=(TenantId left, TenantId right) => left.CompareTo(right) >= 0;
}
