using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MultiTenant.AspNetCore.Tests.Infrastructure;

/// <summary>A webhook receiver on real Kestrel on loopback: records every request; answers <see cref="Status"/> or hangs.</summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly SemaphoreSlim _arrived = new(0);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private WebhookReceiver(WebApplication app) => _app = app;

    public sealed record Request(string? Signature, string? EventId, string ContentType, byte[] Body, int AnsweredStatus);

    /// <summary>Every request, in arrival order, with the status it was answered with (0 while it hangs).</summary>
    public ConcurrentQueue<Request> Requests { get; } = new();

    /// <summary>The status of the answer to a request with the given event id; 200 by default.</summary>
    public Func<string?, int> Status { get; set; } = static _ => 200;

    /// <summary>Whether requests hang (until the receiver is disposed).</summary>
    public bool Hang { get; set; }

    public Uri Url { get; private set; } = null!;

    public static async Task<WebhookReceiver> StartAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", receiver.HandleAsync);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        receiver.Url = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/hook");
        return receiver;
    }

    /// <summary>A loopback port nothing listens on (connections are refused) until a receiver is started on it.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Waits (up to 20 s of real time, as a safety net) until <paramref name="done"/> holds, calling <paramref name="step"/> between looks.</summary>
    public async Task WaitUntilAsync(Func<bool> done, Action? step = null, TimeSpan? limit = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(20));
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, "The receiver did not get what was expected in time.");
            step?.Invoke();
            await _arrived.WaitAsync(TimeSpan.FromMilliseconds(step is null ? 1000 : 20));
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        if (Hang)
        {
            Requests.Enqueue(new Request(Header(context, "X-MultiTenant-Signature"), Header(context, "X-MultiTenant-Event-Id"), context.Request.ContentType ?? "", buffer.ToArray(), 0));
            _arrived.Release();
            await _release.Task.WaitAsync(context.RequestAborted);
            return;
        }

        string? eventId = Header(context, "X-MultiTenant-Event-Id");
        int status = Status(eventId);
        Requests.Enqueue(new Request(Header(context, "X-MultiTenant-Signature"), eventId, context.Request.ContentType ?? "", buffer.ToArray(), status));
        context.Response.StatusCode = status;
        _arrived.Release();
    }

    private static string? Header(HttpContext context, string name) => context.Request.Headers.TryGetValue(name, out var value) ? value.ToString() : null;

    public async ValueTask DisposeAsync()
    {
        _release.TrySetResult();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _arrived.Dispose();
    }
}
