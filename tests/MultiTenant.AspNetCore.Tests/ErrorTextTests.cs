using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using MultiTenant.AspNetCore.Diagnostics;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.Diagnostics;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>
/// Issue 9: the text of an exception nobody wrote for callers (here a connection string and a token) never reaches a tenant's status,
/// the dashboard's feed or problem details; they carry a fixed reason and an error id that the log line with the exception carries too.
/// </summary>
public sealed partial class ErrorTextTests
{
    private const string Secret = "Host=db.internal;Username=app;Password=hunter2;access_token=EAAGsecret";

    [Fact]
    public async Task A_failed_client_creation_shows_a_fixed_reason_and_an_error_id_in_the_status_and_the_dashboard_feed()
    {
        await using var app = await TestApp.StartAsync(map: static a =>
        {
            a.MapTenantApi();
            a.MapTenantDashboard("/dashboard");
        });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/dashboard/events");
        using var feed = await app.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await feed.Content.ReadAsStreamAsync());
        Assert.Equal(": live", await reader.ReadLineAsync().WithTimeout());
        app.Clients.For("broken").CreateFailure = new InvalidOperationException(Secret, new IOException("token EAAGinner"));

        using (var start = await app.PostJsonAsync("/api/tenants", """{"business_id":"broken"}"""))
        {
            Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        }

        string? disconnected = null;
        while (disconnected is null)
        {
            string line = (await reader.ReadLineAsync().WithTimeout())!;
            AssertNoSecret(line);
            if (line.StartsWith("data: ", StringComparison.Ordinal) && line.Contains("\"disconnected\"", StringComparison.Ordinal))
            {
                disconnected = line;
            }
        }

        AssertLogged(app, ErrorId(disconnected, "creating the client failed", MultiTenantEventIds.ConnectFailed), MultiTenantEventIds.ConnectFailed);
        using var get = await app.Http.GetAsync("/api/tenants/broken");
        string status = await Responses.AssertJsonAsync(get, 200);
        Responses.AssertNoExceptionText(status);
        AssertNoSecret(status);
        AssertLogged(app, ErrorId(status, "creating the client failed", MultiTenantEventIds.ConnectFailed), MultiTenantEventIds.ConnectFailed);
    }

    [Fact]
    public async Task A_send_that_fails_with_an_unforeseen_exception_is_a_502_problem_with_an_error_id_and_the_log_holds_the_exception()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("sender");
        app.Clients.For("sender").SendFailure = new IOException(Secret);

        using var send = await app.PostJsonAsync("/api/tenants/sender/messages", """{"to":"15551234567","text":"hi"}""");

        string detail = await Responses.AssertProblemAsync(send, 502);
        Assert.Equal("send_failed", await Responses.ErrorCodeAsync(send));
        AssertNoSecret(await send.Content.ReadAsStringAsync());
        AssertLogged(app, ErrorId(detail, "sending the message failed", TenantApiEventIds.SendFailed), TenantApiEventIds.SendFailed);
    }

    private static void AssertNoSecret(string text)
    {
        Assert.DoesNotContain("hunter2", text, StringComparison.Ordinal);
        Assert.DoesNotContain("EAAG", text, StringComparison.Ordinal);
        Assert.DoesNotContain("db.internal", text, StringComparison.Ordinal);
    }

    /// <summary>The error id of the fixed text <c>{reason}; error id {id} in the log (event {eventId})</c> inside <paramref name="text"/>.</summary>
    private static string ErrorId(string text, string reason, int eventId)
    {
        var match = Reference().Match(text);
        Assert.True(match.Success, text);
        Assert.Equal(reason, match.Groups["reason"].Value);
        Assert.Equal(eventId.ToString(System.Globalization.CultureInfo.InvariantCulture), match.Groups["event"].Value);
        return match.Groups["id"].Value;
    }

    /// <summary>The log line with <paramref name="eventId"/> and <paramref name="errorId"/> holds the exception with its text.</summary>
    private static void AssertLogged(TestApp app, string errorId, int eventId) =>
        Assert.Contains(app.Logs.GetSnapshot(), r => r.Id.Id == eventId
            && r.Message.Contains(errorId, StringComparison.Ordinal)
            && r.Exception?.Message == Secret);

    [GeneratedRegex(@"(?<reason>[a-z' ]+); error id (?<id>[0-9a-f]{8}) in the log \(event (?<event>\d+)\)")]
    private static partial Regex Reference();
}
