using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MultiTenant.CloudApi;
using MultiTenant.CloudApi.Client;
using MultiTenant.CloudApi.Diagnostics;
using MultiTenant.CloudApi.Endpoints;
using MultiTenant.CloudApi.Graph;
using MultiTenant.CloudApi.Media;
using MultiTenant.CloudApi.Messaging;
using MultiTenant.CloudApi.Routing;
using MultiTenant.CloudApi.Webhooks;
using MultiTenant.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Selects the WhatsApp Business Cloud API as the tenants' client.</summary>
public static class CloudApiWhatsAppTenantsBuilderExtensions
{
    /// <summary>
    /// Uses the official WhatsApp Business Cloud API for every tenant: registers its client factory (replacing any set before),
    /// <see cref="ICloudApiCredentialStore"/>, <see cref="ICloudApiMessaging"/>, <see cref="ICloudApiMedia"/> (with a
    /// <see cref="MultiTenant.Media.FileSystemMediaStore"/> as the <see cref="MultiTenant.Media.IMediaStore"/> unless one was set before),
    /// the Graph API <see cref="System.Net.Http.HttpClient"/> (named <see cref="CloudApiOptions.HttpClientName"/>), the webhook's services
    /// and the decoder of its inbox items (source <c>cloudapi</c>).
    /// Webhook deliveries go into the store's durable inbox and phone number index (<c>AddWhatsAppTenants()</c> registers in-memory
    /// ones, <c>UsePostgreSql()</c> durable ones shared by a fleet). <see cref="CloudApiOptions"/> bind from the
    /// <c>WhatsAppTenants:CloudApi</c> section, then <paramref name="configure"/> runs; they are validated when the host starts.
    /// Calling it again registers nothing twice (a new <paramref name="configure"/> is added).
    /// </summary>
    /// <returns>The builder.</returns>
    public static WhatsAppTenantsBuilder UseCloudApi(this WhatsAppTenantsBuilder builder, Action<CloudApiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        builder.UseClientFactory<CloudApiClientFactory>();
        if (!services.Any(static d => d.ServiceType == typeof(CloudApiMarker)))
        {
            AddServices(services);
            if (!services.Any(static d => d.ServiceType == typeof(MultiTenant.Media.IMediaStore)))
            {
                builder.UseFileSystemMediaStore();
            }
        }

        // After the binding registered by AddServices, so code wins over configuration.
        if (configure is not null)
        {
            services.Configure(configure);
        }

        return builder;
    }

    private static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<CloudApiMarker>();
        services.AddOptions<CloudApiOptions>().ValidateOnStart();
        services.AddSingleton<IConfigureOptions<CloudApiOptions>>(static sp => new BindFromConfiguration(sp.GetService<IConfiguration>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CloudApiOptions>, CloudApiOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CloudApiOptions>, CloudApiOptionsCrossValidator>());

        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpClient(CloudApiOptions.HttpClientName, static client =>
            {
                // Timeouts run on the injected TimeProvider (CloudApiOptions.RequestTimeout), not on HttpClient's own clock.
                client.Timeout = Timeout.InfiniteTimeSpan;
                client.DefaultRequestHeaders.UserAgent.ParseAdd("MultiTenant.CloudApi/1.0");
            })
            // No Information log per Graph request on the send path (failures are logged by the client itself). A host that wants
            // the factory's request logs adds them back with AddHttpClient(CloudApiOptions.HttpClientName).AddDefaultLogger();
            // the Authorization header stays redacted then.
            .RemoveAllLoggers()
            .RedactLoggedHeaders(["Authorization"]);

        services.TryAddSingleton<CloudApiTenantDirectory>();
        services.TryAddSingleton(static sp => new CloudApiMetrics(sp.GetService<IMeterFactory>()));
        services.TryAddSingleton<GraphApiClient>();
        services.TryAddSingleton<CredentialStorage>();
        services.TryAddSingleton<CloudApiInbox>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MultiTenant.Inbox.IInboxEventDecoder, CloudApiInboxDecoder>());
        services.TryAddSingleton<ICloudApiCredentialStore, CloudApiCredentialStore>();
        services.TryAddSingleton<ICloudApiMessaging, CloudApiMessaging>();
        services.TryAddSingleton<CloudApiMedia>();
        services.TryAddSingleton<ICloudApiMedia>(static sp => sp.GetRequiredService<CloudApiMedia>());
        services.TryAddSingleton<WebhookProcessor>();
        services.TryAddSingleton<WebhookApps>();
        services.TryAddSingleton<WebhookEndpoint>();

        // The credentials endpoints join the tenant API's one protected group (MapTenantApi): they cannot be mapped open.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MultiTenant.AspNetCore.Security.ITenantApiEndpointContributor, CredentialsEndpointContributor>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MultiTenant.AspNetCore.Security.ITenantApiEndpointContributor, MediaEndpointContributor>());
    }

    private sealed class CloudApiMarker;

    private sealed class BindFromConfiguration(IConfiguration? configuration) : IConfigureOptions<CloudApiOptions>
    {
        public void Configure(CloudApiOptions options) =>
            configuration?.GetSection(CloudApiOptions.SectionName).Bind(options);
    }
}
