using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.Hosting;
using MultiTenant.Secrets;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Configures secrets at rest: the key-encryption key and where the key ring is stored.</summary>
public static class TenantSecretsWhatsAppTenantsBuilderExtensions
{
    /// <summary>
    /// Configures <see cref="TenantSecretsOptions"/> after they are bound from the <c>WhatsAppTenants:Secrets</c> section (code wins).
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddWhatsAppTenants()</c>.</param>
    /// <param name="configure">Sets the options, for example the key-encryption key from a secret manager.</param>
    /// <returns>The builder.</returns>
    public static WhatsAppTenantsBuilder ConfigureSecrets(this WhatsAppTenantsBuilder builder, Action<TenantSecretsOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure(configure);
        return builder;
    }

    /// <summary>
    /// Stores the Data Protection key ring of <see cref="DataProtectionTenantSecretProtector"/> in <paramref name="repository"/>
    /// (replacing any repository set before), a durable store that every host of a fleet shares; <c>UsePostgreSql()</c> calls it with
    /// its own table. A key-encryption key (<see cref="TenantSecretsOptions.KeyEncryptionKey"/>) is then required: without one the host
    /// fails to start with a <see cref="TenantSecretsConfigurationException"/>. Without any repository the key ring lives in memory.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddWhatsAppTenants()</c>.</param>
    /// <param name="repository">Creates the repository (once, from the host's services).</param>
    /// <returns>The builder.</returns>
    public static WhatsAppTenantsBuilder UseSecretKeyRepository(this WhatsAppTenantsBuilder builder, Func<IServiceProvider, IXmlRepository> repository)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(repository);
        builder.Services.Replace(ServiceDescriptor.Singleton(new SecretKeyRepositoryRegistration(repository)));
        return builder;
    }

    /// <summary>Registers the secret protector, its options and its start-up check; called once by <c>AddWhatsAppTenants()</c>.</summary>
    internal static void AddTenantSecrets(IServiceCollection services)
    {
        services.AddOptions<TenantSecretsOptions>().ValidateOnStart();
        services.AddSingleton<IConfigureOptions<TenantSecretsOptions>>(static sp => new BindFromConfiguration(sp.GetService<IConfiguration>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TenantSecretsOptions>, TenantSecretsOptionsValidator>());
        services.TryAddSingleton(static sp => CreateProtector(sp));
        services.TryAddSingleton<ITenantSecretProtector>(static sp => sp.GetRequiredService<DataProtectionTenantSecretProtector>());

        // Before the coordinator's hosted service (AddWhatsAppTenants registers it next), so no tenant starts without its secrets.
        services.AddSingleton<IHostedService, TenantSecretsStartupCheck>();
    }

    private static DataProtectionTenantSecretProtector CreateProtector(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<TenantSecretsOptions>>().Value;
        var registration = services.GetService<SecretKeyRepositoryRegistration>();
        if (registration is not null && string.IsNullOrWhiteSpace(options.KeyEncryptionKey))
        {
            throw new TenantSecretsConfigurationException(
                $"Secrets at rest need a key-encryption key when the key ring is stored in the database (UsePostgreSql): set " +
                $"{TenantSecretsOptions.SectionName}:{nameof(TenantSecretsOptions.KeyEncryptionKey)} (environment variable " +
                $"WhatsAppTenants__Secrets__KeyEncryptionKey) to base64 of 32 random bytes, for example the output of 'openssl rand -base64 32', " +
                "the same on every host, kept outside the database (a secret manager, the environment).");
        }

        var repository = registration?.Create(services) ?? new InMemoryXmlRepository();
        return new DataProtectionTenantSecretProtector(options, repository, services.GetService<ILoggerFactory>());
    }

    private sealed class BindFromConfiguration(IConfiguration? configuration) : IConfigureOptions<TenantSecretsOptions>
    {
        public void Configure(TenantSecretsOptions options) =>
            configuration?.GetSection(TenantSecretsOptions.SectionName).Bind(options);
    }
}

/// <summary>The durable key ring repository registered with <c>UseSecretKeyRepository()</c>.</summary>
internal sealed class SecretKeyRepositoryRegistration(Func<IServiceProvider, IXmlRepository> create)
{
    public IXmlRepository Create(IServiceProvider services) =>
        create(services) ?? throw new InvalidOperationException("The factory given to UseSecretKeyRepository() returned null.");
}

/// <summary>
/// Creates the secret protector when the host starts, so a missing key-encryption key fails start-up (with a
/// <see cref="TenantSecretsConfigurationException"/>) instead of the first tenant's first secret.
/// </summary>
internal sealed class TenantSecretsStartupCheck(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = services.GetRequiredService<ITenantSecretProtector>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
