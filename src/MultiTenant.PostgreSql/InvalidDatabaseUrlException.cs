namespace MultiTenant.PostgreSql;

/// <summary>
/// A malformed <c>DATABASE_URL</c> or connection string. The message names the problem (and the query parameter or keyword concerned)
/// and never contains the password nor any other value taken from the URL.
/// </summary>
public sealed class InvalidDatabaseUrlException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong; must not contain secrets.</param>
    /// <param name="setting">The query parameter or connection string keyword concerned, when there is one.</param>
    public InvalidDatabaseUrlException(string message, string? setting = null)
        : base(message) => Setting = setting;

    /// <summary>The query parameter or connection string keyword concerned, or <see langword="null"/>.</summary>
    public string? Setting { get; }
}
