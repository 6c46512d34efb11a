using System.Buffers;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace MultiTenant.Media;

/// <summary>Options of <see cref="FileSystemMediaStore"/>, bound from the <c>WhatsAppTenants:Media</c> configuration section.</summary>
public sealed class FileSystemMediaStoreOptions
{
    /// <summary>The configuration section the options bind to: <c>WhatsAppTenants:Media</c>.</summary>
    public const string SectionName = "WhatsAppTenants:Media";

    /// <summary>
    /// The directory files are saved under, one subdirectory per tenant (<c>{RootPath}/{business_id}/{name}</c>). A relative path is
    /// resolved against the current directory when the store is created. Default <c>media</c>. Created when needed.
    /// </summary>
    public string RootPath { get; set; } = "media";
}

/// <summary>
/// The default <see cref="IMediaStore"/>: files under <see cref="FileSystemMediaStoreOptions.RootPath"/>, in a directory per tenant.
/// A save streams into a temporary file in the tenant's directory (hashing as it goes), flushes it to disk and moves it over the
/// final name, so a crash or a failed download never leaves a partial file under a media name.
/// </summary>
/// <remarks>Business ids and media names only contain <c>a-z A-Z 0-9 . _ -</c> and start with a letter or a digit, so a path can never
/// leave the root. Temporary files start with a dot, which no media name does.</remarks>
public sealed class FileSystemMediaStore : IMediaStore
{
    private const int BufferSize = 81920;
    private const string TempPrefix = ".tmp-";

    /// <summary>Creates the store.</summary>
    /// <param name="options">The options; <see cref="FileSystemMediaStoreOptions.RootPath"/> must not be blank.</param>
    /// <exception cref="ArgumentException">The root path is blank.</exception>
    public FileSystemMediaStore(IOptions<FileSystemMediaStoreOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string root = options.Value.RootPath;
        if (string.IsNullOrWhiteSpace(root))
        {
            throw new ArgumentException($"{FileSystemMediaStoreOptions.SectionName}:{nameof(FileSystemMediaStoreOptions.RootPath)} must not be blank.", nameof(options));
        }

        RootPath = Path.GetFullPath(root);
    }

    /// <summary>The full path of the root directory.</summary>
    public string RootPath { get; }

    /// <inheritdoc/>
    public async Task<StoredMedia> SaveAsync(TenantId tenant, string name, Stream content, string? contentType, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        MediaNames.ThrowIfInvalid(tenant, name);
        string directory = Path.Combine(RootPath, tenant.Value);
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, name);
        string temp = Path.Combine(directory, TempPrefix + Guid.NewGuid().ToString("N"));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        long length = 0;
        try
        {
            var file = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                Options = FileOptions.Asynchronous,
                BufferSize = 0,
            });
            await using (file.ConfigureAwait(false))
            {
                int read;
                while ((read = await content.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    length += read;
                }

                file.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return new StoredMedia(tenant, name, length, Convert.ToHexStringLower(hash.GetHashAndReset()), contentType, path);
    }

    /// <inheritdoc/>
    public Task<Stream?> OpenReadAsync(TenantId tenant, string name, CancellationToken cancellationToken = default)
    {
        MediaNames.ThrowIfInvalid(tenant, name);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            Stream stream = new FileStream(Path.Combine(RootPath, tenant.Value, name), new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.Read | FileShare.Delete,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
            });
            return Task.FromResult<Stream?>(stream);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    /// <inheritdoc/>
    public Task<bool> DeleteAsync(TenantId tenant, string name, CancellationToken cancellationToken = default)
    {
        MediaNames.ThrowIfInvalid(tenant, name);
        cancellationToken.ThrowIfCancellationRequested();
        string path = Path.Combine(RootPath, tenant.Value, name);
        if (!File.Exists(path))
        {
            return Task.FromResult(false);
        }

        File.Delete(path);
        return Task.FromResult(true);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Left behind: a dot file no media name can collide with.
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }
    }
}
