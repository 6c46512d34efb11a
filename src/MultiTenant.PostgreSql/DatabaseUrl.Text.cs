using System.Data.Common;
using System.Globalization;
using System.Text;
using Npgsql;

namespace MultiTenant.PostgreSql;

/// <summary>The connection-string form and the percent-decoding of <see cref="DatabaseUrl"/>.</summary>
public static partial class DatabaseUrl
{
    private static NpgsqlConnectionStringBuilder ParseConnectionString(string connectionString)
    {
        var generic = new DbConnectionStringBuilder();
        try
        {
            generic.ConnectionString = connectionString;
        }
        catch (ArgumentException)
        {
            throw new InvalidDatabaseUrlException(
                "The database setting is neither a postgres:// URL nor a valid Npgsql connection string (Key=Value pairs separated by ';').");
        }

        var builder = new NpgsqlConnectionStringBuilder();
        foreach (string key in generic.Keys)
        {
            try
            {
                builder[key] = generic[key];
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException or OverflowException)
            {
                // The keyword is the caller's own text; the value (possibly a password) is never repeated.
                string keyword = IsPrintableKeyword(key) ? key : "(unprintable)";
                throw new InvalidDatabaseUrlException(
                    $"The connection string keyword '{keyword}' is not supported by Npgsql or its value is not valid.", keyword);
            }
        }

        if (string.IsNullOrWhiteSpace(builder.Host))
        {
            throw new InvalidDatabaseUrlException("The connection string has no Host.");
        }

        return builder;
    }

    private static bool IsPrintableKeyword(string key)
    {
        if (key.Length is 0 or > 64)
        {
            return false;
        }

        foreach (char c in key)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != ' ' && c != '_')
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsSchemeName(ReadOnlySpan<char> value)
    {
        if (value.IsEmpty || !char.IsAsciiLetter(value[0]))
        {
            return false;
        }

        foreach (char c in value)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '+' && c != '-' && c != '.')
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsParameterName(string name)
    {
        if (name.Length is 0 or > 64 || !(char.IsAsciiLetterLower(name[0]) || name[0] == '_'))
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c != '_')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Strict percent-decoding to UTF-8 ('+' stays '+', as in libpq). The error names the part, never its text.</summary>
    private static string Decode(string value, string part)
    {
        if (!value.Contains('%', StringComparison.Ordinal))
        {
            return value;
        }

        var bytes = new List<byte>(value.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c == '%')
            {
                if (i + 2 >= value.Length || !char.IsAsciiHexDigit(value[i + 1]) || !char.IsAsciiHexDigit(value[i + 2]))
                {
                    throw new InvalidDatabaseUrlException($"The {part} in the database URL has an invalid percent-encoding (expected % followed by two hex digits).");
                }

                bytes.Add((byte)((HexValue(value[i + 1]) << 4) | HexValue(value[i + 2])));
                i += 2;
            }
            else if (char.IsSurrogate(c))
            {
                if (i + 1 >= value.Length || !char.IsSurrogatePair(c, value[i + 1]))
                {
                    throw new InvalidDatabaseUrlException($"The {part} in the database URL is not valid text.");
                }

                int written = Encoding.UTF8.GetBytes(value.AsSpan(i, 2), utf8);
                for (int j = 0; j < written; j++)
                {
                    bytes.Add(utf8[j]);
                }

                i++;
            }
            else
            {
                int written = Encoding.UTF8.GetBytes(value.AsSpan(i, 1), utf8);
                for (int j = 0; j < written; j++)
                {
                    bytes.Add(utf8[j]);
                }
            }
        }

        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDatabaseUrlException($"The {part} in the database URL is percent-encoded, but not as UTF-8.");
        }
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
