using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.AspNetCore.Diagnostics;
using MultiTenant.Diagnostics;
using MultiTenant.Secrets;
using MultiTenant.Webhooks;

namespace MultiTenant.AspNetCore.Webhooks;

/// <summary>
/// One delivery attempt of a tenant's oldest pending event: reads the subscription, takes a slot of the endpoint's in-flight limit,
/// leases the event, posts it signed (<see cref="WebhookSignature"/>) through the named <see cref="HttpClient"/>
/// <see cref="HttpClientName"/> (whose handler checks every resolved address, <see cref="WebhookUrlPolicy"/>), and records the outcome:
/// delivered (2xx), retried with backoff, or a dead letter once <see cref="WebhookDeliveryOptions.RetryPeriod"/> is over.
/// </summary>
internal sealed class WebhookSender(
    ITenantWebhookSubscriptionStore subscriptions,
    ITenantWebhookOutbox outbox,
    ITenantSecretProtector protector,
    IHttpClientFactory clients,
    IOptions<WebhookDeliveryOptions> options,
    WebhookMetrics metrics,
    TimeProvider time,
    ILogger<WebhookSender>? logger = null)
{
    /// <summary>The name of the <see cref="HttpClient"/> that delivers webhooks.</summary>
    public const string HttpClientName = "MultiTenant.Webhooks";

    private const string UserAgent = "MultiTenant-Webhooks/1.0";

    private readonly WebhookDeliveryOptions _options = options.Value;
    private readonly ILogger _logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    /// <summary>The lease of an event being sent: longer than one attempt can take, so two senders never overlap.</summary>
    private TimeSpan Lease => (_options.Timeout * 2) + TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, SemaphoreSlim> _endpoints = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Sends the tenant's oldest pending event if it is due. <see langword="true"/> when an event was dealt with (the caller goes on
    /// with the next), <see langword="false"/> when there was nothing to send now. Store failures throw. After <paramref name="stop"/>
    /// no attempt starts; one already posting runs to its end unless <paramref name="abort"/> cancels it.
    /// </summary>
    public async Task<bool> SendNextAsync(TenantId tenant, Guid sender, CancellationToken stop, CancellationToken abort)
    {
        var subscription = await subscriptions.GetAsync(tenant, stop).ConfigureAwait(false);
        if (subscription is null)
        {
            // Deleted while its events waited (the delete made them dead letters; this catches one queued in the same instant).
            stop.ThrowIfCancellationRequested();
            var orphan = await outbox.ClaimAsync(tenant, sender, Lease, abort).ConfigureAwait(false);
            if (orphan is null)
            {
                return false;
            }

            await DeadLetterAsync(orphan, sender, WebhookSubscriptions.DeletedError).ConfigureAwait(false);
            return true;
        }

        var gate = _endpoints.GetOrAdd(subscription.Url.GetLeftPart(UriPartial.Authority), _ => new SemaphoreSlim(_options.MaxConcurrentPerEndpoint));
        await gate.WaitAsync(stop).ConfigureAwait(false);
        try
        {
            // A claim is not cancelled by the stop (only by the abort): one cancelled after the store took it would leave the event leased
            // to no one for the whole lease, holding the tenant's next owner back.
            stop.ThrowIfCancellationRequested();
            var item = await outbox.ClaimAsync(tenant, sender, Lease, abort).ConfigureAwait(false);
            if (item is null)
            {
                return false;
            }

            using var activity = Tracing.Source.HasListeners() ? StartDeliverySpan(item) : null;
            var attempt = await PostAsync(subscription, item, sender, abort).ConfigureAwait(false);
            string outcome;
            if (attempt.Error is null)
            {
                await outbox.CompleteAsync(tenant, item.Id, sender, CancellationToken.None).ConfigureAwait(false);
                metrics.Attempted(outcome = WebhookMetrics.Delivered, time.GetUtcNow() - item.CreatedAt);
            }
            else if (attempt.Refused)
            {
                metrics.Attempted(outcome = WebhookMetrics.Refused);
                await DeadLetterAsync(item, sender, attempt.Error).ConfigureAwait(false);
            }
            else
            {
                outcome = await RetryOrDeadLetterAsync(item, sender, attempt.Error).ConfigureAwait(false);
            }

            EndDeliverySpan(activity, attempt, outcome);
            return true;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The <c>webhook deliver</c> span of one attempt (<see cref="TenantTracing"/>).</summary>
    private static Activity? StartDeliverySpan(WebhookOutboxItem item)
    {
        var activity = Tracing.Source.StartActivity("webhook deliver", ActivityKind.Client);
        activity?.SetTag(TenantTracing.BusinessIdAttribute, item.Tenant.Value);
        activity?.SetTag(TenantTracing.WebhookEventIdAttribute, item.EventId);
        activity?.SetTag(TenantTracing.WebhookAttemptAttribute, item.Attempts);
        return activity;
    }

    private static void EndDeliverySpan(Activity? activity, Attempt attempt, string outcome)
    {
        if (activity is null)
        {
            return;
        }

        if (attempt.StatusCode is { } code)
        {
            activity.SetTag(TenantTracing.HttpStatusCodeAttribute, code);
        }

        activity.SetTag(TenantTracing.WebhookOutcomeAttribute, outcome);
        if (attempt.Error is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, attempt.ErrorType);
            activity.SetTag(TenantTracing.ErrorTypeAttribute, attempt.ErrorType);
        }
    }

    /// <summary>
    /// How an attempt went: the failure for the outbox (never exception text or secrets; <see langword="null"/> when delivered), whether
    /// the target is refused for good, the receiver's status code when it answered, and the failure's kind for the span's <c>error.type</c>.
    /// </summary>
    private readonly record struct Attempt(string? Error, bool Refused, int? StatusCode = null, string? ErrorType = null);

    /// <summary>Posts the event.</summary>
    private async Task<Attempt> PostAsync(WebhookSubscription subscription, WebhookOutboxItem item, Guid sender, CancellationToken stop)
    {
        if (WebhookUrlPolicy.Validate(subscription.Url, _options.AllowPrivateTargets) is { } invalid)
        {
            return new(invalid, true, ErrorType: "target_refused");
        }

        byte[] secret;
        try
        {
            secret = protector.Unprotect(item.Tenant, WebhookSubscriptions.SecretPurpose, subscription.ProtectedSecret.ToArray());
        }
        catch (TenantSecretUnreadableException)
        {
            return new("The subscription's secret could not be read with this host's key ring.", false, ErrorType: nameof(TenantSecretUnreadableException));
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, subscription.Url) { Content = new ReadOnlyMemoryContent(item.Body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.TryAddWithoutValidation(WebhookSignature.HeaderName, WebhookSignature.Compute(secret, time.GetUtcNow(), item.Body.Span));
        request.Headers.TryAddWithoutValidation(WebhookSignature.EventIdHeaderName, item.EventId);
        request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(secret);

        using var timeout = new CancellationTokenSource(_options.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
        try
        {
            using var response = await clients.CreateClient(HttpClientName)
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            int code = (int)response.StatusCode;
            return response.IsSuccessStatusCode
                ? new(null, false, code)
                : new($"The receiver answered HTTP {code}.", false, code, code.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The host stops: the attempt did not finish. Release the lease so the next owner sends it again soon.
            await outbox.FailAsync(item.Tenant, item.Id, sender, "The host stopped during the attempt.", time.GetUtcNow(), CancellationToken.None)
                .ConfigureAwait(false);
            throw;
        }
        catch (OperationCanceledException)
        {
            return new($"The receiver did not answer within {_options.Timeout.TotalSeconds:0.###} s.", false, ErrorType: "timeout");
        }
        catch (HttpRequestException ex) when (FindRefusal(ex) is { } refusal)
        {
            return new(refusal.Message, true, ErrorType: "target_refused");
        }
        catch (HttpRequestException ex)
        {
            return new($"The request failed ({ex.HttpRequestError}).", false, ErrorType: ex.HttpRequestError.ToString());
        }
    }

    /// <summary>Schedules the next attempt, or dead-letters the event once its retry period is over; returns which.</summary>
    private async Task<string> RetryOrDeadLetterAsync(WebhookOutboxItem item, Guid sender, string error)
    {
        var delay = _options.RetryDelay(item.Attempts, Random.Shared.NextDouble());
        var due = time.GetUtcNow() + delay;
        if (due > item.CreatedAt + _options.RetryPeriod)
        {
            metrics.Attempted(WebhookMetrics.DeadLetter);
            await DeadLetterAsync(item, sender, error).ConfigureAwait(false);
            return WebhookMetrics.DeadLetter;
        }

        await outbox.FailAsync(item.Tenant, item.Id, sender, error, due, CancellationToken.None).ConfigureAwait(false);
        metrics.Attempted(WebhookMetrics.Failed);
        Log.WebhookFailed(_logger, item.Tenant.Value, item.EventId, item.Attempts, error, delay);
        return WebhookMetrics.Failed;
    }

    private async Task DeadLetterAsync(WebhookOutboxItem item, Guid sender, string error)
    {
        await outbox.FailAsync(item.Tenant, item.Id, sender, error, retryAt: null, CancellationToken.None).ConfigureAwait(false);
        Log.WebhookDeadLettered(_logger, item.Tenant.Value, item.EventId, item.Attempts, error);
    }

    private static WebhookTargetRefusedException? FindRefusal(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is WebhookTargetRefusedException refused)
            {
                return refused;
            }
        }

        return null;
    }
}
