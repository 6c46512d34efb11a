using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MultiTenant.CloudApi.Tests.Infrastructure;

/// <summary>A request the fake Graph API received.</summary>
public sealed record GraphRequest(string Method, string Path, string Query, string? Authorization, string Body);

/// <summary>
/// A fake Graph API on Kestrel (127.0.0.1, a free port), so the client's HttpClient goes through real HTTP. Serves the phone number
/// health probe and the messages endpoint, returns Graph errors on demand, and records every request it received.
/// </summary>
public sealed partial class FakeGraphApi : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly WebApplication _app;
    private readonly Dictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private readonly HashSet<string> _revoked = new(StringComparer.Ordinal);
    private readonly Queue<GraphFailure> _probeFailures = new();
    private readonly Queue<GraphFailure> _sendFailures = new();
    private readonly Dictionary<string, Queue<GraphFailure>> _recipientFailures = new(StringComparer.Ordinal);
    private readonly List<GraphRequest> _requests = [];
    private readonly List<(Func<IReadOnlyList<GraphRequest>, bool> Condition, TaskCompletionSource Signal)> _waiters = [];
    private long _messageIds;

    /// <summary>The templates <c>GET /{waba-id}/message_templates</c> lists, in Meta's node shape (id, name, language, status, category).</summary>
    public List<(string Id, string Name, string Language, string Status, string Category)> Templates { get; } = [];

    private FakeGraphApi(WebApplication app) => _app = app;

    /// <summary>The base URL to configure as <see cref="CloudApiOptions.GraphBaseUrl"/>.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>What the probe reports as <c>health_status.can_send_message</c>. Default AVAILABLE.</summary>
    public string CanSendMessage { get; set; } = "AVAILABLE";

    public static async Task<FakeGraphApi> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.Limits.MaxRequestBodySize = null; // media uploads up to 100 MB (FakeGraphApi.Media.cs)
        });
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var fake = new FakeGraphApi(app);
        app.Run(fake.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fake.BaseUrl = new Uri(address);
        return fake;
    }

    /// <summary>Accepts <paramref name="token"/> for the WhatsApp Business Account <paramref name="wabaId"/>.</summary>
    public void AddBusinessAccount(string wabaId, string token) => AddNumber(wabaId, token);

    /// <summary>Accepts <paramref name="token"/> for <paramref name="phoneNumberId"/>.</summary>
    public void AddNumber(string phoneNumberId, string token)
    {
        lock (_gate)
        {
            _tokens[phoneNumberId] = token;
        }
    }

    /// <summary>From now on every request with <paramref name="token"/> gets Graph error 190.</summary>
    public void Revoke(string token)
    {
        lock (_gate)
        {
            _revoked.Add(token);
        }
    }

    /// <summary>The next <paramref name="count"/> probes fail with Graph error <paramref name="code"/>.</summary>
    public void FailProbes(int count, int code, HttpStatusCode status = HttpStatusCode.BadRequest, int? subcode = null)
    {
        lock (_gate)
        {
            for (int i = 0; i < count; i++)
            {
                _probeFailures.Enqueue(new GraphFailure(code, status, subcode));
            }
        }
    }

    /// <summary>The next send fails with Graph error <paramref name="code"/>.</summary>
    public void FailNextSend(int code, HttpStatusCode status = HttpStatusCode.BadRequest)
    {
        lock (_gate)
        {
            _sendFailures.Enqueue(new GraphFailure(code, status, null));
        }
    }

    /// <summary>The next send to <paramref name="recipient"/> fails with Graph error <paramref name="code"/>.</summary>
    public void FailNextSendTo(string recipient, int code, HttpStatusCode status = HttpStatusCode.BadRequest)
    {
        lock (_gate)
        {
            if (!_recipientFailures.TryGetValue(recipient, out var queue))
            {
                _recipientFailures[recipient] = queue = new Queue<GraphFailure>();
            }

            queue.Enqueue(new GraphFailure(code, status, null));
        }
    }

    public IReadOnlyList<GraphRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    public IReadOnlyList<GraphRequest> Probes => Requests.Where(static r => r.Method == "GET" && !r.Path.EndsWith("/message_templates", StringComparison.Ordinal)).ToList();

    public IReadOnlyList<GraphRequest> Sends => Requests.Where(static r => r.Method == "POST").ToList();

    /// <summary>Completes when the recorded requests satisfy <paramref name="condition"/> (checked after every request).</summary>
    public Task WaitForAsync(Func<IReadOnlyList<GraphRequest>, bool> condition)
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

    public Task WaitForProbesAsync(int count) => WaitForAsync(r => r.Count(static x => x.Method == "GET") >= count);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (await TryHandleMediaAsync(context))
        {
            return;
        }

        var request = context.Request;
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted);
        }

        string? authorization = request.Headers.Authorization;
        var recorded = new GraphRequest(request.Method, request.Path.Value ?? string.Empty, request.QueryString.Value ?? string.Empty, authorization, body);

        // /{version}/{phone-number-id} or /{version}/{phone-number-id}/messages
        var segments = recorded.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        string phoneNumberId = segments.Length >= 2 ? segments[1] : string.Empty;
        bool isProbe = request.Method == "GET" && segments.Length == 2;
        bool isPost = request.Method == "POST" && segments.Length == 3 && segments[2] == "messages";
        bool isRead = isPost && body.Contains("\"status\":\"read\"", StringComparison.Ordinal);
        bool isSend = isPost && !isRead;
        bool isTemplates = request.Method == "GET" && segments.Length == 3 && segments[2] == "message_templates";
        string? token = authorization is not null && authorization.StartsWith("Bearer ", StringComparison.Ordinal) ? authorization[7..] : null;

        GraphFailure? failure = null;
        string? to = isSend ? ReadTo(body) : null;
        long id = 0;
        lock (_gate)
        {
            if (token is null || _revoked.Contains(token) || !_tokens.TryGetValue(phoneNumberId, out var expected) || expected != token)
            {
                failure = new GraphFailure(190, HttpStatusCode.Unauthorized, 463);
            }
            else if (isProbe && _probeFailures.Count > 0)
            {
                failure = _probeFailures.Dequeue();
            }
            else if (isSend && to is not null && _recipientFailures.TryGetValue(to, out var perRecipient) && perRecipient.Count > 0)
            {
                failure = perRecipient.Dequeue();
            }
            else if (isSend && _sendFailures.Count > 0)
            {
                failure = _sendFailures.Dequeue();
            }
            else if (!isProbe && !isSend && !isRead && !isTemplates)
            {
                failure = new GraphFailure(100, HttpStatusCode.BadRequest, 33);
            }

            if (failure is null && isSend)
            {
                id = ++_messageIds;
            }

            _requests.Add(recorded);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Condition(_requests))
                {
                    _waiters[i].Signal.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }

        context.Response.ContentType = "application/json; charset=UTF-8";
        if (failure is { } f)
        {
            context.Response.StatusCode = (int)f.Status;
            await context.Response.WriteAsync(ErrorBody(f), context.RequestAborted);
            return;
        }

        if (isProbe)
        {
            await context.Response.WriteAsync(
                $$"""{"health_status":{"can_send_message":"{{CanSendMessage}}","entities":[{"entity_type":"PHONE_NUMBER","id":"{{phoneNumberId}}","can_send_message":"{{CanSendMessage}}"},{"entity_type":"WABA","id":"102290129340398","can_send_message":"{{CanSendMessage}}"{{(CanSendMessage == "AVAILABLE" ? "" : ""","errors":[{"error_code":141006,"error_description":"There is an error with the payment method.","possible_solution":"Add a valid payment method."}]""")}}}]},"display_phone_number":"15550783881","quality_rating":"GREEN","id":"{{phoneNumberId}}"}""",
                context.RequestAborted);
            return;
        }

        if (isRead)
        {
            await context.Response.WriteAsync("""{"success":true}""", context.RequestAborted);
            return;
        }

        if (isTemplates)
        {
            await context.Response.WriteAsync(TemplatesPage(request), context.RequestAborted);
            return;
        }

        await context.Response.WriteAsync(
            $$"""{"messaging_product":"whatsapp","contacts":[{"input":"{{to}}","wa_id":"{{to}}"}],"messages":[{"id":"wamid.FAKE{{id.ToString(CultureInfo.InvariantCulture)}}"}]}""",
            context.RequestAborted);
    }

    /// <summary>One page of templates: <c>{"data":[…],"paging":{"cursors":{"before","after"},"next"}}</c>, <c>limit</c> per page.</summary>
    private string TemplatesPage(HttpRequest request)
    {
        int limit = int.TryParse(request.Query["limit"], CultureInfo.InvariantCulture, out int l) ? l : 25;
        int start = request.Query["after"] is [{ } after] && after.StartsWith('c') ? int.Parse(after[1..], CultureInfo.InvariantCulture) : 0;
        List<(string Id, string Name, string Language, string Status, string Category)> all;
        lock (_gate)
        {
            all = [.. Templates];
        }

        var page = all.Skip(start).Take(limit).ToList();
        var data = string.Join(",", page.Select(t => $$"""{"name":"{{t.Name}}","language":"{{t.Language}}","status":"{{t.Status}}","category":"{{t.Category}}","id":"{{t.Id}}"}"""));
        int end = start + page.Count;
        string cursors = $$"""{"before":"c{{start.ToString(CultureInfo.InvariantCulture)}}","after":"c{{end.ToString(CultureInfo.InvariantCulture)}}"}""";
        string next = end < all.Count ? $$""","next":"{{BaseUrl}}{{request.Path.Value!.TrimStart('/')}}?limit={{limit.ToString(CultureInfo.InvariantCulture)}}&after=c{{end.ToString(CultureInfo.InvariantCulture)}}" """.TrimEnd() : string.Empty;
        return "{\"data\":[" + data + "],\"paging\":{\"cursors\":" + cursors + next + "}}";
    }

    private static string? ReadTo(string body)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(body);
            return document.RootElement.TryGetProperty("to", out var to) ? to.GetString() : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>Graph's error shape, with the messages Meta's error code reference gives.</summary>
    private static string ErrorBody(GraphFailure failure)
    {
        string message = failure.Code switch
        {
            190 => "Error validating access token: Session has expired on Friday, 01-Nov-24 10:00:00 PDT.",
            4 => "(#4) Application request limit reached",
            80007 => "(#80007) Rate limit issues",
            130429 => "(#130429) Rate limit hit",
            131056 => "(#131056) (Business Account, Consumer Account) pair rate limit hit",
            131048 => "(#131048) Spam rate limit hit",
            368 => "Temporarily blocked for policies violations",
            131000 => "(#131000) Something went wrong",
            100 => "Unsupported get request. Object with ID does not exist",
            _ => "(#" + failure.Code.ToString(CultureInfo.InvariantCulture) + ") Error",
        };
        string subcode = failure.Subcode is { } s ? ",\"error_subcode\":" + s.ToString(CultureInfo.InvariantCulture) : string.Empty;
        return """{"error":{"message":""" + "\"" + message + "\",\"type\":\"OAuthException\",\"code\":" + failure.Code.ToString(CultureInfo.InvariantCulture) + subcode
            + ",\"error_data\":{\"messaging_product\":\"whatsapp\",\"details\":\"" + message + "\"},\"fbtrace_id\":\"AbCdEfGh123\"}}";
    }

    private readonly record struct GraphFailure(int Code, HttpStatusCode Status, int? Subcode);
}
