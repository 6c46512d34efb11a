namespace MultiTenant.CloudApi.Graph;

/// <summary>How the client reacts to a Graph error, decided by Graph's <c>error.code</c> rather than the HTTP status.</summary>
internal enum GraphErrorKind
{
    /// <summary>Not recognised: the request is refused, retrying the same request will not help.</summary>
    Other = 0,

    /// <summary>190: the access token is invalid, expired or revoked. Fatal for the tenant.</summary>
    TokenInvalid,

    /// <summary>10 and 200–299: the token lacks a permission. Fatal for the tenant.</summary>
    PermissionDenied,

    /// <summary>100 with subcode 33: the phone number id does not exist (or the token cannot see it). Fatal for the tenant.</summary>
    NumberNotFound,

    /// <summary>4 (app call rate) and 80007 (WhatsApp Business Account rate): pause the tenant, retry later.</summary>
    Throttled,

    /// <summary>130429: the number's throughput limit; pause the tenant briefly.</summary>
    ThroughputThrottled,

    /// <summary>131056: too many messages to the same recipient; hold back only that recipient.</summary>
    RecipientThrottled,

    /// <summary>131048 (spam rate limit) and 368 (temporarily blocked for policy violations): a policy refusal.</summary>
    Policy,

    /// <summary>Graph's own transient failures: codes 1, 2, 131000, 131016, 133004, and any other code with a 5xx (or 429) status.</summary>
    ServerTransient,

    /// <summary>No response: a network fault or a timeout.</summary>
    Network,
}

/// <summary>A failed Graph call: what Graph said (scrubbed of the token) and how to react.</summary>
internal sealed class GraphError
{
    public GraphError(GraphErrorKind kind, int? code, int? subcode, int? httpStatus, string message)
    {
        Kind = kind;
        Code = code;
        Subcode = subcode;
        HttpStatus = httpStatus;
        Message = message;
    }

    public GraphErrorKind Kind { get; }

    public int? Code { get; }

    public int? Subcode { get; }

    public int? HttpStatus { get; }

    /// <summary>A message safe to show: "Graph error 131048: Spam rate limit hit (details)".</summary>
    public string Message { get; }

    public bool IsTransient => Kind is GraphErrorKind.Throttled or GraphErrorKind.ThroughputThrottled or GraphErrorKind.RecipientThrottled
        or GraphErrorKind.ServerTransient or GraphErrorKind.Network;

    /// <summary>The metric tag of the error: its Graph code, or <c>http_NNN</c>, or <c>network</c>.</summary>
    public string Tag => Code is { } code ? code.ToString(System.Globalization.CultureInfo.InvariantCulture)
        : HttpStatus is { } status ? "http_" + status.ToString(System.Globalization.CultureInfo.InvariantCulture)
        : "network";

    public static GraphErrorKind Classify(int? code, int? subcode, int? httpStatus) => code switch
    {
        190 => GraphErrorKind.TokenInvalid,
        10 or (>= 200 and <= 299) => GraphErrorKind.PermissionDenied,
        100 when subcode == 33 => GraphErrorKind.NumberNotFound,
        4 or 80007 => GraphErrorKind.Throttled,
        130429 => GraphErrorKind.ThroughputThrottled,
        131056 => GraphErrorKind.RecipientThrottled,
        131048 or 368 => GraphErrorKind.Policy,
        1 or 2 or 131000 or 131016 or 133004 => GraphErrorKind.ServerTransient,
        _ when httpStatus is >= 500 or 429 => GraphErrorKind.ServerTransient,
        _ => GraphErrorKind.Other,
    };

    public CloudApiException ToException(Exception? inner = null) =>
        new(Message, Code, HttpStatus, IsTransient, inner);
}
