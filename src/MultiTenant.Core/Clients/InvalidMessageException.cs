namespace MultiTenant.Clients;

/// <summary>
/// A message breaks a limit of the backend (text too long, too many buttons, a caption on a sticker, …) or is malformed. Thrown before
/// anything is sent; retrying the same message fails the same way. Over HTTP it is a 400 problem.
/// </summary>
public sealed class InvalidMessageException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="field">The offending field, as a JSON path of the message object (for example <c>interactive.action.buttons</c>).</param>
    /// <param name="message">What is wrong, for a person.</param>
    public InvalidMessageException(string field, string message)
        : base(message)
    {
        Field = field;
    }

    /// <summary>The offending field, as a JSON path of the message object (for example <c>interactive.action.buttons</c>).</summary>
    public string Field { get; }
}
