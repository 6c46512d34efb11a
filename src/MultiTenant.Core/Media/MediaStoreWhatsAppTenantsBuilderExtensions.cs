using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MultiTenant.Hosting;
using MultiTenant.Media;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Selects where media files are stored (<see cref="IMediaStore"/>).</summary>
public static class MediaStoreWhatsAppTenantsBuilderExtensions
{
    /// <summary>
    /// Stores media in the file system (<see cref="FileSystemMediaStore"/>), replacing any <see cref="IMediaStore"/> set before.
    /// <see cref="FileSystemMediaStoreOptions"/> bind from the <c>WhatsAppTenants:Media</c> section, then <paramref name="configure"/> runs.
    /// </summary>
    /// <returns>The builder.</returns>
    public static WhatsAppTenantsBuilder UseFileSystemMediaStore(this WhatsAppTenantsBuilder builder, Action<FileSystemMediaStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<FileSystemMediaStoreOptions>, BindFromConfiguration>());
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.Replace(ServiceDescriptor.Singleton<IMediaStore, FileSystemMediaStore>());
        return builder;
    }

    /// <summary>Stores media in <typeparamref name="TStore"/> (a singleton), replacing any <see cref="IMediaStore"/> set before.</summary>
    /// <returns>The builder.</returns>
    public static WhatsAppTenantsBuilder UseMediaStore<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TStore>(this WhatsAppTenantsBuilder builder)
        where TStore : class, IMediaStore
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton<IMediaStore, TStore>());
        return builder;
    }

    private sealed class BindFromConfiguration(IConfiguration? configuration = null) : IConfigureOptions<FileSystemMediaStoreOptions>
    {
        public void Configure(FileSystemMediaStoreOptions options) =>
            configuration?.GetSection(FileSystemMediaStoreOptions.SectionName).Bind(options);
    }
}
