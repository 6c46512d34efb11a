namespace MultiTenant.Media;

/// <summary>
/// Where media files (inbound pictures, voice notes, documents) are kept, partitioned by tenant. The default is
/// <see cref="FileSystemMediaStore"/>; an S3-compatible store can implement the same interface. Implementations stream: a file is never
/// held whole in memory. Thread-safe.
/// </summary>
public interface IMediaStore
{
    /// <summary>
    /// Saves <paramref name="content"/> (read to its end) as <paramref name="name"/> of <paramref name="tenant"/>, replacing a file of
    /// that name atomically: readers see the old file or the new one, never a partial file. When reading <paramref name="content"/>
    /// throws (for example because a download failed its integrity check), nothing is saved and the exception propagates.
    /// </summary>
    /// <param name="tenant">The tenant that owns the file.</param>
    /// <param name="name">The file's name: 1 to 200 characters of <c>a-z A-Z 0-9 . _ -</c>, starting with a letter or a digit
    /// (<see cref="MediaNames.Validate"/>), for example a Cloud API media id.</param>
    /// <param name="content">The bytes, read once to the end; not disposed.</param>
    /// <param name="contentType">The MIME type, when known (kept by stores that can; returned in the result).</param>
    /// <param name="cancellationToken">Cancels the save; nothing is saved then.</param>
    /// <returns>What was saved: length and SHA-256.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid media name, or <paramref name="tenant"/> is default.</exception>
    Task<StoredMedia> SaveAsync(TenantId tenant, string name, Stream content, string? contentType, CancellationToken cancellationToken = default);

    /// <summary>Opens a saved file for reading (the caller disposes the stream), or returns <see langword="null"/> when there is none.</summary>
    /// <param name="tenant">The tenant that owns the file.</param>
    /// <param name="name">The file's name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid media name, or <paramref name="tenant"/> is default.</exception>
    Task<Stream?> OpenReadAsync(TenantId tenant, string name, CancellationToken cancellationToken = default);

    /// <summary>Deletes a saved file; <see langword="false"/> when there was none.</summary>
    /// <param name="tenant">The tenant that owns the file.</param>
    /// <param name="name">The file's name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid media name, or <paramref name="tenant"/> is default.</exception>
    Task<bool> DeleteAsync(TenantId tenant, string name, CancellationToken cancellationToken = default);
}

/// <summary>A file an <see cref="IMediaStore"/> saved.</summary>
/// <param name="Tenant">The tenant that owns it.</param>
/// <param name="Name">Its name in the store.</param>
/// <param name="Length">Its length in bytes.</param>
/// <param name="Sha256">The SHA-256 of its bytes, 64 lowercase hex digits.</param>
/// <param name="ContentType">Its MIME type, when known.</param>
/// <param name="Location">Where the store keeps it (for <see cref="FileSystemMediaStore"/>, the full path of the file).</param>
public sealed record StoredMedia(TenantId Tenant, string Name, long Length, string Sha256, string? ContentType, string Location);

/// <summary>The names an <see cref="IMediaStore"/> accepts: safe as a file name and an object key on every platform.</summary>
public static class MediaNames
{
    /// <summary>The longest name (200 characters).</summary>
    public const int MaxLength = 200;

    /// <summary>
    /// Why <paramref name="name"/> is not a valid media name, or <see langword="null"/> when it is: 1 to <see cref="MaxLength"/>
    /// characters of <c>a-z A-Z 0-9 . _ -</c>, starting with a letter or a digit (so never <c>..</c>, a path or a hidden file).
    /// </summary>
    /// <param name="name">The name to check.</param>
    public static string? Validate(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "A media name must not be empty.";
        }

        if (name.Length > MaxLength)
        {
            return $"A media name must be at most {MaxLength} characters.";
        }

        if (!char.IsAsciiLetterOrDigit(name[0]))
        {
            return "A media name must start with a letter or a digit.";
        }

        foreach (char c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or '-'))
            {
                return "A media name may contain only a-z, A-Z, 0-9, '.', '_' and '-'.";
            }
        }

        return null;
    }

    internal static void ThrowIfInvalid(TenantId tenant, string name)
    {
        if (tenant.IsDefault)
        {
            throw new ArgumentException("The tenant must not be default(TenantId).", nameof(tenant));
        }

        if (Validate(name) is { } problem)
        {
            throw new ArgumentException(problem, nameof(name));
        }
    }
}
