using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace MultiTenant.Wuzapi.Tests.Infrastructure;

/// <summary>A request the fake engine received.</summary>
public sealed record EngineRequest(string Method, string Path, string? Authorization, string? Token, string Body);

/// <summary>One engine user, as the fake's "database" holds it.</summary>
public sealed class FakeEngineUser
{
    public long Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string Token { get; init; } = string.Empty;

    public string Webhook { get; init; } = string.Empty;

    public string Events { get; init; } = string.Empty;

    public string? HmacKey { get; set; }

    /// <summary>whatsmeow's device store: a paired device survives disconnects and engine restarts.</summary>
    public bool HasDevice { get; set; }

    /// <summary>The running whatsmeow client (wuzapi's clientManager entry), or <see langword="null"/> ("No session").</summary>
    public FakeSession? Session { get; set; }
}

/// <summary>A running whatsmeow client of a user.</summary>
public sealed class FakeSession
{
    public bool Connected { get; set; } = true;

    public bool LoggedIn { get; set; }

    public int QrCount { get; set; }
}

/// <summary>
/// A fake wuzapi engine on Kestrel (127.0.0.1, a fixed free port, so it can restart on the same address), answering in the shapes of
/// wuzapi's <c>API.md</c> and handlers (asternic/wuzapi 79ee4cd): <c>/admin/users</c> with <c>Authorization: {admin token}</c>
/// (list enveloped, add answering <c>{"id":N}</c> bare), the session calls and sends with <c>Token: {user token}</c> in the envelope
/// <c>{"code","data","success"}</c>, errors as <c>{"code","error","success":false}</c> (401 "Unauthorized", 500 "No session", …);
/// <c>POST /session/hmac/config</c> with <c>{"hmac_key"}</c> (the newer engines' HMAC signing, absent from that snapshot). Webhooks
/// go out as wuzapi posts them: a form with <c>jsonData</c> and <c>token</c>, signed with <c>x-hmac-signature</c>.
/// </summary>
public sealed class FakeWuzapiEngine : IAsyncDisposable
{
    public const string AdminToken = "fake-admin-token";

    private readonly Lock _gate = new();
    private readonly List<FakeEngineUser> _users = [];
    private readonly List<EngineRequest> _requests = [];
    private readonly List<(Func<IReadOnlyList<EngineRequest>, bool> Condition, TaskCompletionSource Signal)> _waiters = [];
    private readonly HttpClient _webhooks = new();
    private readonly int _port;
    private WebApplication? _app;
    private long _nextId;
    private long _messageIds;

    private FakeWuzapiEngine(int port) => _port = port;

    public Uri BaseUrl => new("http://127.0.0.1:" + _port.ToString(CultureInfo.InvariantCulture) + "/");

    /// <summary>When true, a new user has a paired device from the start (as if its phone had been linked before), so it logs in at its first connect.</summary>
    public bool PairNewUsers { get; set; }

    /// <summary>When false, connecting a user with a paired device leaves it "Connected" but not yet "LoggedIn" until <see cref="CompleteLogins"/>.</summary>
    public bool LogsInAtOnce { get; set; } = true;

    public static async Task<FakeWuzapiEngine> StartAsync()
    {
        var engine = new FakeWuzapiEngine(FreePort());
        await engine.RunAsync();
        return engine;
    }

    /// <summary>A free loopback port (for the engine, and for the app under test whose webhook URL must be known before it starts).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public IReadOnlyList<FakeEngineUser> Users
    {
        get
        {
            lock (_gate)
            {
                return [.. _users];
            }
        }
    }

    public IReadOnlyList<EngineRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    public FakeEngineUser User(string name) => Users.Single(u => u.Name == name);

    public int Count(string method, string path) => Requests.Count(r => r.Method == method && r.Path == path);

    /// <summary>Waits (bounded) until the requests satisfy <paramref name="condition"/>.</summary>
    public Task WaitForAsync(Func<IReadOnlyList<EngineRequest>, bool> condition)
    {
        lock (_gate)
        {
            if (condition(_requests))
            {
                return Task.CompletedTask;
            }

            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((condition, signal));
            return signal.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>The phone scans the QR code (or enters the linking code): the device is paired and the session logs in.</summary>
    public void Pair(string name)
    {
        lock (_gate)
        {
            var user = _users.Single(u => u.Name == name);
            user.HasDevice = true;
            if (user.Session is { } session)
            {
                session.LoggedIn = true;
            }
        }
    }

    /// <summary>
    /// The device is unlinked on the phone: whatsmeow gets <c>events.LoggedOut</c>, deletes the device and wuzapi kills the client
    /// (the next status is "No session").
    /// </summary>
    public void LogOutFromPhone(string name)
    {
        lock (_gate)
        {
            var user = _users.Single(u => u.Name == name);
            user.HasDevice = false;
            user.Session = null;
        }
    }

    /// <summary>Logs every connected session with a device in (after <see cref="LogsInAtOnce"/> was false).</summary>
    public void CompleteLogins()
    {
        lock (_gate)
        {
            foreach (var user in _users)
            {
                if (user.Session is { } session && user.HasDevice)
                {
                    session.LoggedIn = true;
                }
            }
        }
    }

    /// <summary>The engine's database is reset: every user is gone.</summary>
    public void LoseUsers()
    {
        lock (_gate)
        {
            _users.Clear();
        }
    }

    /// <summary>Stops listening (the process died); users and devices stay in its database, running sessions are gone.</summary>
    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }

        lock (_gate)
        {
            foreach (var user in _users)
            {
                user.Session = null;
            }
        }
    }

    /// <summary>Starts again on the same port.</summary>
    public Task RestartAsync() => RunAsync();

    /// <summary>
    /// Posts <paramref name="jsonData"/> to the user's webhook as wuzapi does (form fields <c>jsonData</c> and <c>token</c>), signed with
    /// the user's HMAC key (or <paramref name="signature"/> when given); to <paramref name="webhook"/> instead of the user's URL when
    /// given (another host of a fleet behind the same address).
    /// </summary>
    public async Task<HttpStatusCode> DeliverAsync(string name, string jsonData, string? signature = null, string? token = null, Uri? webhook = null)
    {
        var user = User(name);
        string body = "jsonData=" + Uri.EscapeDataString(jsonData) + "&token=" + Uri.EscapeDataString(token ?? user.Token);
        using var request = new HttpRequestMessage(HttpMethod.Post, webhook ?? new Uri(user.Webhook))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded"),
        };
        request.Headers.TryAddWithoutValidation("x-hmac-signature", signature ?? Sign(user.HmacKey!, body));
        using var response = await _webhooks.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>The hex HMAC-SHA256 of <paramref name="body"/> under <paramref name="key"/>, as the engine signs its webhooks.</summary>
    public static string Sign(string key, string body) =>
        Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(body)));

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _webhooks.Dispose();
    }

    private async Task RunAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, _port));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync();
        _app = app;
    }

    private async Task HandleAsync(HttpContext context)
    {
        string body;
        using (var reader = new StreamReader(context.Request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync();
        }

        string path = context.Request.Path.Value ?? string.Empty;
        string method = context.Request.Method;
        var request = new EngineRequest(method, path, context.Request.Headers.Authorization.ToString(), context.Request.Headers["Token"].ToString(), body);
        (int Status, string Json) answer;
        lock (_gate)
        {
            answer = path.StartsWith("/admin/", StringComparison.Ordinal) ? Admin(request) : Session(request);
            _requests.Add(request);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Condition(_requests))
                {
                    _waiters[i].Signal.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }

        context.Response.StatusCode = answer.Status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(answer.Json + "\n");
    }

    private (int, string) Admin(EngineRequest request)
    {
        if (request.Authorization != AdminToken)
        {
            return Error(401, "Unauthorized");
        }

        if (request.Method == "GET")
        {
            var list = request.Path == "/admin/users" ? _users : _users.Where(u => "/admin/users/" + u.Id == request.Path).ToList();
            var array = new JsonArray();
            foreach (var u in list)
            {
                array.Add(new JsonObject
                {
                    ["id"] = u.Id, ["name"] = u.Name, ["token"] = u.Token, ["webhook"] = u.Webhook, ["jid"] = u.HasDevice ? "5491155553934.0:1@s.whatsapp.net" : string.Empty,
                    ["qrcode"] = string.Empty, ["connected"] = u.Session?.Connected ?? false, ["loggedIn"] = u.Session?.LoggedIn ?? false,
                    ["expiration"] = 0, ["proxy_url"] = string.Empty, ["events"] = u.Events,
                });
            }

            return Ok(array);
        }

        if (request.Method == "POST" && request.Path == "/admin/users")
        {
            var json = JsonNode.Parse(request.Body)!.AsObject();
            string token = (string)json["token"]!;
            if (_users.Any(u => u.Token == token))
            {
                return Error(409, "User with the same token already exists");
            }

            var user = new FakeEngineUser { Id = ++_nextId, Name = (string)json["name"]!, Token = token, Webhook = (string)json["webhook"]!, Events = (string)json["events"]!, HasDevice = PairNewUsers };
            _users.Add(user);
            return (200, new JsonObject { ["id"] = user.Id }.ToJsonString()); // AddUser encodes {"id":N} without the envelope
        }

        if (request.Method == "DELETE")
        {
            int removed = _users.RemoveAll(u => "/admin/users/" + u.Id == request.Path);
            return removed == 0 ? Error(404, "User not found") : (200, """{"Details":"User deleted successfully"}""");
        }

        return Error(405, "Method not allowed");
    }

    private (int, string) Session(EngineRequest request)
    {
        var user = _users.FirstOrDefault(u => u.Token == request.Token);
        if (user is null)
        {
            return Error(401, "Unauthorized");
        }

        var session = user.Session;
        switch (request.Method, request.Path)
        {
            case ("POST", "/session/connect"):
                if (session is not null)
                {
                    return Error(500, "Already Connected");
                }

                user.Session = new FakeSession { LoggedIn = user.HasDevice && LogsInAtOnce };
                return Ok(new JsonObject { ["webhook"] = user.Webhook, ["jid"] = string.Empty, ["events"] = user.Events, ["details"] = "Connected!" });
            case ("GET", "/session/status"):
                return session is null ? Error(500, "No session") : Ok(new JsonObject { ["Connected"] = session.Connected, ["LoggedIn"] = session.LoggedIn });
            case ("GET", "/session/qr"):
                if (session is null)
                {
                    return Error(500, "No session");
                }

                if (!session.Connected)
                {
                    return Error(500, "Not connected");
                }

                if (session.LoggedIn)
                {
                    return Error(500, "Already Loggedin");
                }

                if (user.HasDevice)
                {
                    return Ok(new JsonObject { ["QRCode"] = string.Empty }); // logging in with its device: no QR code
                }

                session.QrCount++;
                return Ok(new JsonObject { ["QRCode"] = "data:image/png;base64,UVItQ09ERS0=" + session.QrCount.ToString(CultureInfo.InvariantCulture) });
            case ("POST", "/session/pairphone"):
                if (session is null)
                {
                    return Error(500, "No session");
                }

                string? phone = (string?)JsonNode.Parse(request.Body)?["Phone"];
                if (string.IsNullOrEmpty(phone))
                {
                    return Error(400, "Missing Phone in Payload");
                }

                return session.LoggedIn ? Error(400, "Already paired") : Ok(new JsonObject { ["LinkingCode"] = "ABCD-" + phone[^4..] });
            case ("POST", "/session/hmac/config"):
                user.HmacKey = (string?)JsonNode.Parse(request.Body)?["hmac_key"];
                return Ok(new JsonObject { ["Details"] = "HMAC configured" });
            case ("POST", "/session/disconnect"):
                if (session is null)
                {
                    return Error(500, "No session");
                }

                if (!session.LoggedIn)
                {
                    return Error(500, "Cannot disconnect because it is not logged in");
                }

                user.Session = null;
                return Ok(new JsonObject { ["Details"] = "Disconnected" });
            case ("POST", "/session/logout"):
                if (session is null)
                {
                    return Error(500, "No session");
                }

                if (!session.LoggedIn)
                {
                    return Error(500, "Could not logout as it was not logged in");
                }

                user.Session = null;
                user.HasDevice = false;
                return Ok(new JsonObject { ["Details"] = "Logged out" });
            default:
                if (request.Path.StartsWith("/chat/", StringComparison.Ordinal))
                {
                    return Send(session, request);
                }

                return Error(404, "404 page not found");
        }
    }

    private (int, string) Send(FakeSession? session, EngineRequest request)
    {
        if (session is null)
        {
            return Error(500, "No session");
        }

        var json = JsonNode.Parse(request.Body)!.AsObject();
        if (string.IsNullOrEmpty((string?)json["Phone"]))
        {
            return Error(400, "Missing Phone in Payload");
        }

        if ((string?)json["Phone"] == "0")
        {
            return Error(500, "Error sending message: server returned error 479");
        }

        string id = (string?)json["Id"] is { Length: > 0 } given ? given : "3EB0" + (++_messageIds).ToString("X12", CultureInfo.InvariantCulture);
        return Ok(new JsonObject { ["Details"] = "Sent", ["Timestamp"] = "2025-05-08T16:40:01-03:00", ["Id"] = id });
    }

    private static (int, string) Ok(JsonNode data) =>
        (200, new JsonObject { ["code"] = 200, ["data"] = data, ["success"] = true }.ToJsonString());

    private static (int, string) Error(int code, string error) =>
        (code, new JsonObject { ["code"] = code, ["error"] = error, ["success"] = false }.ToJsonString());

    /// <summary>A webhook event as wuzapi's myEventHandler builds it: <c>{"type":…,"event":…}</c> plus the type's extras.</summary>
    public static string Event(string type, JsonObject evt, string? state = null)
    {
        var root = new JsonObject { ["event"] = evt, ["type"] = type };
        if (state is not null)
        {
            root["state"] = state;
        }

        return root.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }
}
