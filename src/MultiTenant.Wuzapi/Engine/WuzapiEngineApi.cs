using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace MultiTenant.Wuzapi.Engine;

/// <summary>A user of an engine as <c>GET /admin/users/{id}</c> lists it.</summary>
internal sealed record EngineUserInfo(long Id, string Name, string Token, string Webhook, string Events);

/// <summary>What <c>GET /session/status</c> says: <c>Connected</c> (the websocket is up) and <c>LoggedIn</c> (a device is paired).</summary>
internal readonly record struct SessionStatus(bool Connected, bool LoggedIn);

/// <summary>A message the engine accepted: its id (<c>data.Id</c>).</summary>
internal readonly record struct SentMessage(string Id);

/// <summary>
/// The HTTP calls of one wuzapi engine, in the shapes of its <c>API.md</c>: the admin calls (<c>/admin/users</c>, header
/// <c>Authorization: {admin token}</c>) and the user calls (header <c>Token: {user token}</c>). Answers come in wuzapi's envelope
/// <c>{"code":…,"data":{…},"success":true}</c> or <c>{"code":…,"error":"…","success":false}</c>; <c>POST /admin/users</c> answers
/// <c>{"id":…}</c> without one. Every call runs under <see cref="WuzapiOptions.RequestTimeout"/> on the injected clock; a failure
/// throws <see cref="WuzapiEngineException"/>.
/// </summary>
internal sealed class WuzapiEngineApi(string name, Uri baseUrl, string adminToken, HttpClient http, TimeSpan timeout, TimeProvider time)
{
    public string Name => name;

    public async Task<EngineUserInfo?> GetUserAsync(long id, CancellationToken cancellationToken)
    {
        using var document = await SendAsync(HttpMethod.Get, "/admin/users/" + id.ToString(System.Globalization.CultureInfo.InvariantCulture), null, admin: true, null, cancellationToken).ConfigureAwait(false);
        return ReadUsers(document.RootElement) is [var first, ..] ? first : null;
    }

    public async Task<IReadOnlyList<EngineUserInfo>> ListUsersAsync(CancellationToken cancellationToken)
    {
        using var document = await SendAsync(HttpMethod.Get, "/admin/users", null, admin: true, null, cancellationToken).ConfigureAwait(false);
        return ReadUsers(document.RootElement);
    }

    public async Task<long> AddUserAsync(AddUserRequest request, CancellationToken cancellationToken)
    {
        using var document = await SendAsync(HttpMethod.Post, "/admin/users", Json(request, WuzapiJsonContext.Default.AddUserRequest), admin: true, null, cancellationToken).ConfigureAwait(false);
        var root = document.RootElement;
        // wuzapi answers {"id":N}; an enveloped {"data":{"id":N}} is read too.
        var holder = root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object ? data : root;
        if (holder.TryGetProperty("id", out var id) && id.TryGetInt64(out long value) && value > 0)
        {
            return value;
        }

        throw new WuzapiEngineException(name, "POST /admin/users", 200, "the answer has no user id");
    }

    public async Task ConnectAsync(string token, IReadOnlyList<string> events, CancellationToken cancellationToken)
    {
        try
        {
            using var _ = await SendAsync(HttpMethod.Post, "/session/connect", Json(new ConnectRequest(events, Immediate: true), WuzapiJsonContext.Default.ConnectRequest), admin: false, token, cancellationToken).ConfigureAwait(false);
        }
        catch (WuzapiEngineException ex) when (ex.StatusCode == 500 && string.Equals(ex.EngineError, "Already Connected", StringComparison.Ordinal))
        {
            // A whatsmeow client runs for the user already (another host of ours started it, or the engine kept it): that is the goal.
        }
    }

    /// <summary>The session's status, or <see langword="null"/> while no whatsmeow client runs for the user ("No session").</summary>
    public async Task<SessionStatus?> GetStatusAsync(string token, CancellationToken cancellationToken)
    {
        try
        {
            using var document = await SendAsync(HttpMethod.Get, "/session/status", null, admin: false, token, cancellationToken).ConfigureAwait(false);
            var data = Data(document.RootElement);
            return new SessionStatus(Bool(data, "Connected"), Bool(data, "LoggedIn"));
        }
        catch (WuzapiEngineException ex) when (ex.IsNoSession)
        {
            return null;
        }
    }

    /// <summary>The current QR code (a <c>data:image/png;base64,</c> URL), or <see langword="null"/> when the engine has none yet.</summary>
    public async Task<string?> GetQrAsync(string token, CancellationToken cancellationToken)
    {
        try
        {
            using var document = await SendAsync(HttpMethod.Get, "/session/qr", null, admin: false, token, cancellationToken).ConfigureAwait(false);
            return Data(document.RootElement).TryGetProperty("QRCode", out var qr) && qr.ValueKind == JsonValueKind.String && qr.GetString() is { Length: > 0 } code
                ? code
                : null;
        }
        catch (WuzapiEngineException ex) when (ex.StatusCode == 500)
        {
            return null; // "No session", "Not connected" or "Already Loggedin": no QR code to show now; the status says what is next
        }
    }

    public async Task<string> PairPhoneAsync(string token, string phone, CancellationToken cancellationToken)
    {
        using var document = await SendAsync(HttpMethod.Post, "/session/pairphone", Json(new PairPhoneRequest(phone), WuzapiJsonContext.Default.PairPhoneRequest), admin: false, token, cancellationToken).ConfigureAwait(false);
        return Data(document.RootElement).TryGetProperty("LinkingCode", out var code) && code.ValueKind == JsonValueKind.String && code.GetString() is { Length: > 0 } value
            ? value
            : throw new WuzapiEngineException(name, "POST /session/pairphone", 200, "the answer has no linking code");
    }

    public async Task ConfigureHmacAsync(string token, string key, CancellationToken cancellationToken)
    {
        using var _ = await SendAsync(HttpMethod.Post, "/session/hmac/config", Json(new HmacConfigRequest(key), WuzapiJsonContext.Default.HmacConfigRequest), admin: false, token, cancellationToken).ConfigureAwait(false);
    }

    public async Task DisconnectAsync(string token, CancellationToken cancellationToken)
    {
        using var _ = await SendAsync(HttpMethod.Post, "/session/disconnect", null, admin: false, token, cancellationToken).ConfigureAwait(false);
    }

    public async Task LogoutAsync(string token, CancellationToken cancellationToken)
    {
        using var _ = await SendAsync(HttpMethod.Post, "/session/logout", null, admin: false, token, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Posts a send (<c>/chat/send/…</c>, <c>/chat/react</c>) and returns the engine's message id (<c>data.Id</c>).</summary>
    public async Task<SentMessage> SendAsync<T>(string token, string path, T request, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        using var document = await SendAsync(HttpMethod.Post, path, Json(request, type), admin: false, token, cancellationToken).ConfigureAwait(false);
        return Data(document.RootElement).TryGetProperty("Id", out var id) && id.ValueKind == JsonValueKind.String && id.GetString() is { Length: > 0 } value
            ? new SentMessage(value)
            : throw new WuzapiEngineException(name, "POST " + path, 200, "the answer has no message id");
    }

    private static ByteArrayContent Json<T>(T value, JsonTypeInfo<T> type)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(value, type));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private async Task<JsonDocument> SendAsync(HttpMethod method, string path, HttpContent? content, bool admin, string? token, CancellationToken cancellationToken)
    {
        string call = method.Method + " " + path;
        using var request = new HttpRequestMessage(method, new Uri(baseUrl, path.TrimStart('/'))) { Content = content };
        if (admin)
        {
            request.Headers.TryAddWithoutValidation("Authorization", adminToken);
        }
        else
        {
            request.Headers.TryAddWithoutValidation("Token", token);
        }

        using var timeoutSource = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        HttpResponseMessage response;
        byte[] body;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, linked.Token).ConfigureAwait(false);
            using (response)
            {
                body = await response.Content.ReadAsByteArrayAsync(linked.Token).ConfigureAwait(false);
                return Parse(call, (int)response.StatusCode, body);
            }
        }
        catch (HttpRequestException ex)
        {
            throw new WuzapiEngineException(name, call, 0, null, ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new WuzapiEngineException(name, call, 0, "timed out", ex);
        }
    }

    private JsonDocument Parse(string call, int status, byte[] body)
    {
        JsonDocument? document = null;
        try
        {
            document = body.Length == 0 ? null : JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            document = null;
        }

        bool ok = status is >= 200 and < 300;
        if (ok && document is not null
            && !(document.RootElement.ValueKind == JsonValueKind.Object
                 && document.RootElement.TryGetProperty("success", out var success) && success.ValueKind == JsonValueKind.False))
        {
            return document;
        }

        string? error = document is not null && document.RootElement.ValueKind == JsonValueKind.Object
            && document.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String
            ? e.GetString()
            : ok ? "the answer is not a JSON object" : Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 200))).Trim();
        document?.Dispose();
        throw new WuzapiEngineException(name, call, status, error);
    }

    private static JsonElement Data(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("data", out var data) ? data : default;

    private static bool Bool(JsonElement data, string property) =>
        data.ValueKind == JsonValueKind.Object && data.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.True;

    private static List<EngineUserInfo> ReadUsers(JsonElement root)
    {
        var users = new List<EngineUserInfo>();
        var list = root.ValueKind == JsonValueKind.Array ? root : Data(root);
        if (list.ValueKind != JsonValueKind.Array)
        {
            return users;
        }

        foreach (var user in list.EnumerateArray())
        {
            if (user.ValueKind == JsonValueKind.Object && user.TryGetProperty("id", out var id) && id.TryGetInt64(out long value))
            {
                users.Add(new EngineUserInfo(value, Text(user, "name"), Text(user, "token"), Text(user, "webhook"), Text(user, "events")));
            }
        }

        return users;
    }

    private static string Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? string.Empty : string.Empty;
}
