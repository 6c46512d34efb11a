namespace MultiTenant.AspNetCore.Api;

/// <summary>The rules of a message sent through <c>POST {prefix}/{business_id}/messages</c>.</summary>
internal static class MessageRules
{
    /// <summary>The <c>error_code</c> of a 400 for a message the API or the backend refuses.</summary>
    public const string InvalidMessageCode = "invalid_message";

    /// <summary>The <c>error_code</c> of a 422 for a message kind the tenant's backend cannot send.</summary>
    public const string KindNotSupportedCode = "kind_not_supported";

    private const int MaxRecipientLength = 128;
    private const int MaxPhoneDigits = 32;

    /// <summary>
    /// Validates a recipient: a phone number in international format without '+' (1 to 32 digits), or a JID <c>user@server</c>
    /// (user: letters, digits, '.', '_', ':', '-'; server: letters, digits, '.', '-'), at most 128 characters.
    /// </summary>
    internal static string? ValidateRecipient(string to)
    {
        const string shape = "a phone number in international format without '+' (1 to 32 digits, e.g. 15551234567) or a WhatsApp JID such as 15551234567@s.whatsapp.net.";
        const string expected = "'to' must be " + shape;
        if (to.Length == 0)
        {
            return "'to' must not be empty; it is " + shape;
        }

        if (to.Length > MaxRecipientLength)
        {
            return $"'to' must be at most {MaxRecipientLength} characters long; it has {to.Length}.";
        }

        int at = to.IndexOf('@', StringComparison.Ordinal);
        if (at < 0)
        {
            foreach (char c in to)
            {
                if (!char.IsAsciiDigit(c))
                {
                    return expected;
                }
            }

            return to.Length <= MaxPhoneDigits ? null : $"'to' as a phone number has at most {MaxPhoneDigits} digits; it has {to.Length}.";
        }

        if (at == 0 || at == to.Length - 1)
        {
            return expected;
        }

        for (int i = 0; i < to.Length; i++)
        {
            char c = to[i];
            bool allowed = i == at
                || (i < at
                    ? char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-'
                    : char.IsAsciiLetterOrDigit(c) || c is '.' or '-');
            if (!allowed)
            {
                return expected;
            }
        }

        return null;
    }

    /// <summary>Validates a message text: 1 to <paramref name="maxLength"/> characters, no NUL.</summary>
    internal static string? ValidateText(string text, int maxLength)
    {
        if (text.Length == 0)
        {
            return "'text' must not be empty.";
        }

        if (text.Length > maxLength)
        {
            return $"'text' must be at most {maxLength} characters long; it has {text.Length}.";
        }

        if (text.Contains('\0', StringComparison.Ordinal))
        {
            return "'text' must not contain NUL characters.";
        }

        return null;
    }
}
