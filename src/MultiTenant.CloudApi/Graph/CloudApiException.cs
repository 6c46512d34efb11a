namespace MultiTenant.CloudApi;

/// <summary>
/// A Graph API call failed. Thrown by the Cloud API client's connect and health probe for conditions retrying can fix
/// (<see cref="IsTransient"/>): throttling (codes 4, 80007, 130429), server errors, timeouts and network faults; the coordinator
/// then reconnects with backoff. Conditions retrying cannot fix surface as <see cref="Clients.TenantFatalException"/> instead, and
/// refused sends as <see cref="Clients.TenantSendException"/>.
/// </summary>
/// <remarks>The message is safe to show: Graph's own error text with the access token scrubbed, never the request.</remarks>
public sealed class CloudApiException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CloudApiException(string message, int? graphErrorCode, int? httpStatusCode, bool isTransient, Exception? innerException = null)
        : base(message, innerException)
    {
        GraphErrorCode = graphErrorCode;
        HttpStatusCode = httpStatusCode;
        IsTransient = isTransient;
    }

    /// <summary>Graph's <c>error.code</c>, when the response carried one.</summary>
    public int? GraphErrorCode { get; }

    /// <summary>The HTTP status, when a response arrived.</summary>
    public int? HttpStatusCode { get; }

    /// <summary>Whether retrying may succeed.</summary>
    public bool IsTransient { get; }
}
