using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MultiTenant.Secrets;

/// <summary>
/// The default <see cref="ITenantSecretProtector"/>: ASP.NET Core Data Protection (AES-256-CBC with HMAC-SHA256 per key, keys rotated
/// every <see cref="TenantSecretsOptions.KeyLifetime"/>), with the application name <see cref="TenantSecretsOptions.ApplicationName"/>
/// and purposes <c>MultiTenant.TenantSecrets.v1</c> / business id / purpose. Its key ring is stored by the repository registered with
/// <c>UseSecretKeyRepository()</c> (<c>UsePostgreSql()</c> registers one table that every host of a fleet shares), else in process
/// memory; every key is encrypted with the configured key-encryption key before it is stored. Thread-safe.
/// </summary>
/// <remarks>
/// It runs its own Data Protection instance (its own small service container), so it neither uses nor changes the host's
/// <c>AddDataProtection()</c> settings (cookies, antiforgery): the two key rings stay apart. Data Protection judges key dates by the
/// system clock. Old keys are never deleted, so secrets protected by them stay readable after every rotation.
/// </remarks>
public sealed class DataProtectionTenantSecretProtector : ITenantSecretProtector, IDisposable
{
    /// <summary>The root purpose of every tenant secret: <c>MultiTenant.TenantSecrets.v1</c>.</summary>
    public const string RootPurpose = "MultiTenant.TenantSecrets.v1";

    private readonly TenantSecretsOptions _options;
    private readonly KeyEncryptionKeys _keys;
    private readonly IXmlRepository _repository;
    private readonly ILoggerFactory _loggerFactory;
    private readonly Lock _lock = new();

    // Every container created so far (one more per RotateKey), disposed with the protector: protectors taken from an older one may
    // still be in use on other threads.
    private readonly List<ServiceProvider> _containers = [];
    private volatile Instance _current;

    internal DataProtectionTenantSecretProtector(TenantSecretsOptions options, IXmlRepository repository, ILoggerFactory? loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(repository);
        _options = options;
        _keys = KeyEncryptionKeys.From(options);
        _repository = repository;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _current = CreateInstance();
    }

    /// <inheritdoc />
    public byte[] Protect(TenantId tenant, string purpose, byte[] plaintext)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        return For(tenant, purpose).Protect(plaintext);
    }

    /// <inheritdoc />
    public byte[] Unprotect(TenantId tenant, string purpose, byte[] protectedData)
    {
        ArgumentNullException.ThrowIfNull(protectedData);
        var protector = For(tenant, purpose);
        try
        {
            return protector.Unprotect(protectedData);
        }
        catch (CryptographicException ex)
        {
            throw new TenantSecretUnreadableException(tenant, purpose, ex);
        }
    }

    /// <summary>
    /// Creates a new key that becomes the default at once on this host (it protects every secret written from now on) and is stored in
    /// the key ring for the other hosts, which read it at once when they meet a secret it protected and protect with it from their next
    /// key ring refresh (Data Protection refreshes at least daily). Older keys stay in the key ring: what they protected stays readable.
    /// Keys also rotate by themselves every <see cref="TenantSecretsOptions.KeyLifetime"/>; call this after a suspected key exposure or a
    /// key-encryption key rotation, so new secrets use a key wrapped by the new KEK.
    /// </summary>
    public void RotateKey()
    {
        lock (_lock)
        {
            // Data Protection judges activation and expiration by the system clock, so the dates come from it.
            var now = TimeProvider.System.GetUtcNow();
            _current.KeyManager.CreateNewKey(now, now + _options.KeyLifetime);

            // Data Protection refreshes a cached key ring in the background after a change, so a fresh instance (which loads the key
            // ring, with the new key as its default, on first use) makes the new key this host's default at once.
            _current = CreateInstance();
        }
    }

    /// <summary>Disposes the protector's own Data Protection containers.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var container in _containers)
            {
                container.Dispose();
            }

            _containers.Clear();
        }
    }

    private Instance CreateInstance()
    {
        var services = new ServiceCollection();
        services.AddSingleton(_keys);
        services.AddSingleton(_loggerFactory);
        services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        services.AddDataProtection()
            .SetApplicationName(TenantSecretsOptions.ApplicationName)
            .AddKeyManagementOptions(key =>
            {
                key.XmlRepository = _repository;
                key.XmlEncryptor = new AesGcmXmlEncryptor(_keys);
                key.NewKeyLifetime = _options.KeyLifetime;
            });
        var container = services.BuildServiceProvider();
        lock (_lock)
        {
            _containers.Add(container);
        }

        return new Instance(
            container.GetRequiredService<IDataProtectionProvider>().CreateProtector(RootPurpose), container.GetRequiredService<IKeyManager>());
    }

    private IDataProtector For(TenantId tenant, string purpose)
    {
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) names no tenant; use TenantId.Parse.", nameof(tenant));
        }

        ThrowIfInvalidPurpose(purpose);
        return _current.Root.CreateProtector(tenant.Value, purpose);
    }

    internal static void ThrowIfInvalidPurpose(string purpose)
    {
        ArgumentNullException.ThrowIfNull(purpose);
        if (purpose.Length is 0 or > 255)
        {
            throw new ArgumentException("A secret's purpose must be 1 to 255 characters long.", nameof(purpose));
        }

        foreach (char c in purpose)
        {
            if (char.IsControl(c))
            {
                throw new ArgumentException("A secret's purpose must not contain control characters.", nameof(purpose));
            }
        }
    }

    private sealed record Instance(IDataProtector Root, IKeyManager KeyManager);
}
