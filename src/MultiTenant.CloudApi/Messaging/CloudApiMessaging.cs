using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using MultiTenant.CloudApi.Graph;

namespace MultiTenant.CloudApi.Messaging;

/// <summary>The default <see cref="ICloudApiMessaging"/>: Graph calls with the stored credentials, and a per-tenant template cache.</summary>
internal sealed class CloudApiMessaging(
    ICloudApiCredentialStore credentials,
    GraphApiClient graph,
    IOptions<CloudApiOptions> options,
    TimeProvider time) : ICloudApiMessaging
{
    /// <summary>At most this many pages are read (100 templates each): a WABA has at most a few hundred templates.</summary>
    private const int MaxPages = 50;

    private readonly ConcurrentDictionary<TenantId, CachedTemplates> _templates = new();

    public async Task MarkReadAsync(TenantId tenant, string messageId, bool showTypingIndicator = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(messageId);
        var stored = await GetCredentialsAsync(tenant, cancellationToken).ConfigureAwait(false);
        try
        {
            await graph.MarkReadAsync(stored, messageId, showTypingIndicator, cancellationToken).ConfigureAwait(false);
        }
        catch (GraphApiException ex)
        {
            throw ex.Error.ToException(ex);
        }
    }

    public async Task<IReadOnlyList<CloudApiTemplate>> GetTemplatesAsync(TenantId tenant, bool refresh = false, CancellationToken cancellationToken = default)
    {
        var stored = await GetCredentialsAsync(tenant, cancellationToken).ConfigureAwait(false);
        string account = stored.BusinessAccountId
            ?? throw new CloudApiException($"Tenant {tenant.Value} has no WhatsApp Business Account id in its Cloud API credentials; set business_account_id to list templates.", null, null, isTransient: false);
        var now = time.GetUtcNow();
        if (!refresh && _templates.TryGetValue(tenant, out var cached) && cached.Expires > now && cached.For.SameAs(stored))
        {
            return cached.Templates;
        }

        var list = new List<CloudApiTemplate>();
        string? after = null;
        try
        {
            for (int page = 0; page < MaxPages; page++)
            {
                var response = await graph.GetTemplatesPageAsync(stored, account, after, cancellationToken).ConfigureAwait(false);
                foreach (var node in response.Data ?? [])
                {
                    if (node is { Id: { } id, Name: { } name })
                    {
                        list.Add(new CloudApiTemplate(id, name, node.Language ?? string.Empty, node.Status ?? "UNKNOWN", node.Category));
                    }
                }

                // Graph gives "next" only when another page exists; the cursor is how to ask for it.
                after = response.Paging?.Next is not null ? response.Paging.Cursors?.After : null;
                if (after is null)
                {
                    break;
                }
            }
        }
        catch (GraphApiException ex)
        {
            throw ex.Error.ToException(ex);
        }

        var result = list.AsReadOnly();
        _templates[tenant] = new CachedTemplates(result, stored, now + options.Value.TemplateCacheDuration);
        return result;
    }

    private async Task<CloudApiCredentials> GetCredentialsAsync(TenantId tenant, CancellationToken cancellationToken) =>
        await credentials.GetAsync(tenant, cancellationToken).ConfigureAwait(false)
        ?? throw new CloudApiException($"Tenant {tenant.Value} has no Cloud API credentials; set them first.", null, null, isTransient: false);

    private sealed record CachedTemplates(IReadOnlyList<CloudApiTemplate> Templates, CloudApiCredentials For, DateTimeOffset Expires);
}
