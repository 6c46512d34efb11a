namespace MultiTenant.CloudApi;

/// <summary>Why a media file was refused.</summary>
public enum MediaRejectionReason
{
    /// <summary>The MIME type is not one the Cloud API accepts (the tenant API answers 415).</summary>
    UnsupportedType = 0,

    /// <summary>The file is larger than its kind allows (the tenant API answers 413).</summary>
    TooLarge = 1,

    /// <summary>The file is empty (the tenant API answers 400).</summary>
    Empty = 2,

    /// <summary>A downloaded file's length or SHA-256 differs from what Graph announced (the tenant API answers 502).</summary>
    IntegrityMismatch = 3,
}

/// <summary>
/// A media file was refused by the library before or while it was transferred: its type or size is outside Meta's limits, or a
/// download did not match its announced length and SHA-256. The message is safe to show; it never contains the file's bytes.
/// </summary>
public sealed class MediaRejectedException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">Why the file was refused.</param>
    /// <param name="message">A message safe to show.</param>
    /// <param name="limit">The size limit in bytes that applied, for <see cref="MediaRejectionReason.TooLarge"/>.</param>
    public MediaRejectedException(MediaRejectionReason reason, string message, long? limit = null)
        : base(message)
    {
        Reason = reason;
        Limit = limit;
    }

    /// <summary>Why the file was refused.</summary>
    public MediaRejectionReason Reason { get; }

    /// <summary>The size limit in bytes that applied, for <see cref="MediaRejectionReason.TooLarge"/>; otherwise <see langword="null"/>.</summary>
    public long? Limit { get; }
}
