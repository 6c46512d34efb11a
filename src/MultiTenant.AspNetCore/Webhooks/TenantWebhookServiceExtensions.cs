using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MultiTenant.AspNetCore.Webhooks;
using MultiTenant.Hosting;
using MultiTenant.Webhooks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the delivery of outbound webhooks (called by <c>AddTenantApi()</c>).</summary>
public static class TenantWebhookServiceExtensions
{
    /// <summary>
    /// Delivers each tenant's events to its webhook subscription (<c>PUT /api/tenants/{id}/webhooks</c>): an event handler writes every
    /// event the tenant's handlers see into the outbox (<see cref="ITenantWebhookOutbox"/>: in memory by default, PostgreSQL with
    /// <c>UsePostgreSql()</c>), and a hosted service on the host that owns the tenant posts them, signed, in order, retried with backoff
    /// for up to <see cref="WebhookDeliveryOptions.RetryPeriod"/>. Deliveries use the named <see cref="HttpClient"/>
    /// <c>MultiTenant.Webhooks</c> (no redirects, no proxy, every resolved address checked by <see cref="WebhookUrlPolicy"/> on connect).
    /// Options bind from <c>WhatsAppTenants:Webhooks</c>, then <paramref name="configure"/> runs. Idempotent.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddWhatsAppTenants()</c>.</param>
    /// <param name="configure">Configures the delivery options; optional.</param>
    /// <returns>The builder.</returns>
    public static WhatsAppTenantsBuilder AddTenantWebhooks(this WhatsAppTenantsBuilder builder, Action<WebhookDeliveryOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (!services.Any(static d => d.ServiceType == typeof(TenantWebhooksMarker)))
        {
            services.AddSingleton<TenantWebhooksMarker>();
            services.TryAddSingleton<WebhookSender>();
            services.TryAddSingleton<WebhookDispatcher>();
            services.TryAddSingleton(static sp => new WebhookSubscriptionCache(
                sp.GetRequiredService<ITenantWebhookSubscriptionStore>(),
                sp.GetRequiredService<IOptions<WebhookDeliveryOptions>>(),
                sp.GetService<TimeProvider>() ?? TimeProvider.System,
                sp.GetService<IWebhookSubscriptionChanges>()));
            services.AddSingleton<IHostedService>(static sp => sp.GetRequiredService<WebhookDispatcher>());
            builder.AddEventHandler<WebhookEventHandler>();
            services.AddHttpClient(WebhookSender.HttpClientName, static client => client.Timeout = Timeout.InfiniteTimeSpan)
                .ConfigurePrimaryHttpMessageHandler(static sp =>
                    CreateHandler(sp.GetRequiredService<IOptions<WebhookDeliveryOptions>>().Value.AllowPrivateTargets));
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return builder;
    }

    /// <summary>
    /// The handler of webhook requests: resolves the target itself at connect time and refuses the connection unless every address is
    /// acceptable, so a DNS answer that changes after the subscription was checked cannot reach an internal address; no redirects
    /// (a redirect could point anywhere) and no proxy (the check must see the real target).
    /// </summary>
    private static SocketsHttpHandler CreateHandler(bool allowPrivateTargets) => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectCallback = async (context, cancellationToken) =>
        {
            var addresses = await WebhookUrlPolicy.ResolveAsync(context.DnsEndPoint.Host, allowPrivateTargets, resolve: null, cancellationToken)
                .ConfigureAwait(false);
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };
}

/// <summary>Marks that <see cref="TenantWebhookServiceExtensions.AddTenantWebhooks"/> ran.</summary>
internal sealed class TenantWebhooksMarker;
