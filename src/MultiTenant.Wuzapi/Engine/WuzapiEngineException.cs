namespace MultiTenant.Wuzapi.Engine;

/// <summary>
/// A wuzapi engine call that failed: the engine was unreachable or timed out (<see cref="StatusCode"/> 0, transient), or it answered
/// with an error envelope (<c>{"code":…,"error":"…","success":false}</c>). The message names the engine and the call, never a token.
/// </summary>
internal sealed class WuzapiEngineException : Exception
{
    public WuzapiEngineException(string engine, string call, int statusCode, string? engineError, Exception? innerException = null)
        : base(Describe(engine, call, statusCode, engineError), innerException)
    {
        Engine = engine;
        Call = call;
        StatusCode = statusCode;
        EngineError = engineError;
    }

    /// <summary>The engine's name.</summary>
    public string Engine { get; }

    /// <summary>The call, such as <c>POST /session/connect</c>.</summary>
    public string Call { get; }

    /// <summary>The HTTP status, or 0 when the engine was not reached.</summary>
    public int StatusCode { get; }

    /// <summary>The envelope's <c>error</c> text, or <see langword="null"/>.</summary>
    public string? EngineError { get; }

    /// <summary>The engine does not know the user token any more (401: the user was deleted or the engine lost its database).</summary>
    public bool IsUnauthorized => StatusCode == 401;

    /// <summary>wuzapi answers 500 "No session" while no whatsmeow client runs for the user.</summary>
    public bool IsNoSession => StatusCode == 500 && string.Equals(EngineError, "No session", StringComparison.Ordinal);

    private static string Describe(string engine, string call, int statusCode, string? engineError)
    {
        if (statusCode == 0)
        {
            return $"The wuzapi engine '{engine}' could not be reached ({call}).";
        }

        string error = engineError is null ? string.Empty : ": " + (engineError.Length > 200 ? engineError[..200] : engineError);
        return $"The wuzapi engine '{engine}' answered {call} with {statusCode}{error}.";
    }
}
