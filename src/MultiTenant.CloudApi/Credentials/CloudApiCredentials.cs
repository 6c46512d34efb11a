namespace MultiTenant.CloudApi;

/// <summary>
/// A tenant's Cloud API credentials: the business phone number id it sends from, a (system user) access token, and optionally its
/// WhatsApp Business Account id. <see cref="ToString"/> never shows the token.
/// </summary>
public sealed class CloudApiCredentials
{
    /// <summary>The longest access token accepted (4,096 characters).</summary>
    public const int MaxAccessTokenLength = 4096;

    /// <summary>The longest phone number or account id accepted (32 digits).</summary>
    public const int MaxIdLength = 32;

    /// <summary>Creates validated credentials.</summary>
    /// <param name="phoneNumberId">The business phone number id (digits), as shown in the Meta app's WhatsApp API setup.</param>
    /// <param name="accessToken">The access token. A secret: kept in the tenant's state store, never logged or returned.</param>
    /// <param name="businessAccountId">The WhatsApp Business Account id (digits), or <see langword="null"/>.</param>
    /// <exception cref="ArgumentException">A value is missing or malformed; the message never repeats the token.</exception>
    public CloudApiCredentials(string phoneNumberId, string accessToken, string? businessAccountId = null)
    {
        string? problem = Validate(phoneNumberId, accessToken, businessAccountId);
        if (problem is not null)
        {
            throw new ArgumentException(problem);
        }

        PhoneNumberId = phoneNumberId;
        AccessToken = accessToken;
        BusinessAccountId = string.IsNullOrEmpty(businessAccountId) ? null : businessAccountId;
    }

    /// <summary>The business phone number id.</summary>
    public string PhoneNumberId { get; }

    /// <summary>The access token (a secret).</summary>
    public string AccessToken { get; }

    /// <summary>The WhatsApp Business Account id, when known.</summary>
    public string? BusinessAccountId { get; }

    /// <summary>
    /// Returns why the values are not valid credentials, or <see langword="null"/> when they are. The message names the field, never
    /// the token's value, so it is safe to return to a caller.
    /// </summary>
    public static string? Validate(string? phoneNumberId, string? accessToken, string? businessAccountId)
    {
        string? problem = ValidateId(phoneNumberId, "phone_number_id", required: true);
        if (problem is not null)
        {
            return problem;
        }

        problem = ValidateId(businessAccountId, "waba_id", required: false);
        if (problem is not null)
        {
            return problem;
        }

        if (string.IsNullOrEmpty(accessToken))
        {
            return "access_token is required.";
        }

        if (accessToken.Length > MaxAccessTokenLength)
        {
            return $"access_token must be at most {MaxAccessTokenLength} characters long.";
        }

        foreach (char c in accessToken)
        {
            // Tokens are URL-safe printable ASCII; anything else would break the Authorization header.
            if (c is <= ' ' or > '~')
            {
                return "access_token must be printable ASCII without spaces.";
            }
        }

        return null;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"CloudApiCredentials {{ PhoneNumberId = {PhoneNumberId}, BusinessAccountId = {BusinessAccountId ?? "(none)"}, AccessToken = *** }}";

    internal bool SameAs(CloudApiCredentials other) =>
        string.Equals(PhoneNumberId, other.PhoneNumberId, StringComparison.Ordinal)
        && string.Equals(AccessToken, other.AccessToken, StringComparison.Ordinal)
        && string.Equals(BusinessAccountId, other.BusinessAccountId, StringComparison.Ordinal);

    internal static string? ValidateId(string? id, string name, bool required)
    {
        if (string.IsNullOrEmpty(id))
        {
            return required ? $"{name} is required." : null;
        }

        if (id.Length > MaxIdLength)
        {
            return $"{name} must be at most {MaxIdLength} digits long.";
        }

        foreach (char c in id)
        {
            if (!char.IsAsciiDigit(c))
            {
                return $"{name} must contain digits only.";
            }
        }

        return null;
    }
}
