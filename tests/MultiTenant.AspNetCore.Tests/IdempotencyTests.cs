using System.Net;
using System.Text.Json;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.Clients;
using MultiTenant.Idempotency;

namespace MultiTenant.AspNetCore.Tests;

/// <summary><c>Idempotency-Key</c> on <c>POST /api/tenants/{id}/messages</c> through the real pipeline, counting client sends.</summary>
public sealed class IdempotencyTests
{
    private const string Hi = """{"to":"15551234567","text":"hi"}""";
    private const string Bye = """{"to":"15551234567","text":"bye"}""";

    [Fact]
    public async Task A_repeated_send_with_the_same_key_and_body_sends_once_and_answers_the_same_message_id()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("t1");

        using var first = await SendAsync(app, "t1", Hi, "order-42");
        string id = await MessageIdAsync(first);
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));

        for (int i = 0; i < 3; i++)
        {
            using var again = await SendAsync(app, "t1", Hi, "order-42");
            Assert.Equal(id, await MessageIdAsync(again));
            Assert.Equal("true", again.Headers.GetValues("Idempotent-Replayed").Single());
        }

        Assert.Single(app.Clients.Client("t1").Sent);

        // Without a key every request sends.
        using (var plain1 = await SendAsync(app, "t1", Hi, key: null))
        using (var plain2 = await SendAsync(app, "t1", Hi, key: null))
        {
            Assert.NotEqual(await MessageIdAsync(plain1), await MessageIdAsync(plain2));
        }

        Assert.Equal(3, app.Clients.Client("t1").Sent.Count);
    }

    [Fact]
    public async Task The_same_key_with_another_body_is_422_and_sends_nothing_while_keys_are_per_tenant()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("t1");
        await app.StartConnectedAsync("t2");
        using (var first = await SendAsync(app, "t1", Hi, "k"))
        {
            await MessageIdAsync(first);
        }

        using (var other = await SendAsync(app, "t1", Bye, "k"))
        {
            string detail = await Responses.AssertProblemAsync(other, 422);
            Assert.Contains("different request", detail, StringComparison.Ordinal);
            Assert.Equal("idempotency_key_reused", await Responses.ErrorCodeAsync(other));
        }

        Assert.Single(app.Clients.Client("t1").Sent);

        using (var otherTenant = await SendAsync(app, "t2", Bye, "k"))
        {
            await MessageIdAsync(otherTenant);
        }

        Assert.Single(app.Clients.Client("t2").Sent);
    }

    [Theory]
    [InlineData(256, null)]
    [InlineData(0, "bad\u0001key")]
    [InlineData(0, "\u00fcn\u00efcode")]
    public async Task An_invalid_key_is_400_and_sends_nothing(int length, string? key)
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("t1");

        using var response = await SendAsync(app, "t1", Hi, key ?? new string('k', length));

        await Responses.AssertProblemAsync(response, 400);
        Assert.Equal("invalid_idempotency_key", await Responses.ErrorCodeAsync(response));
        Assert.Empty(app.Clients.Client("t1").Sent);
    }

    [Fact]
    public async Task Two_key_headers_are_400()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("t1");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/tenants/t1/messages") { Content = TestApp.Body(Hi) };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", ["a", "b"]);

        using var response = await app.Http.SendAsync(request);

        await Responses.AssertProblemAsync(response, 400);
        Assert.Empty(app.Clients.Client("t1").Sent);
    }

    [Fact]
    public async Task A_send_that_failed_frees_its_key_so_the_retry_sends()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("t1");
        var behaviour = app.Clients.For("t1");
        behaviour.SendFailure = new TenantSendException("The backend refused the message.", isTransient: false);

        using (var failed = await SendAsync(app, "t1", Hi, "retry-me"))
        {
            await Responses.AssertProblemAsync(failed, 502);
        }

        behaviour.SendFailure = null;
        using (var retry = await SendAsync(app, "t1", Hi, "retry-me"))
        {
            await MessageIdAsync(retry);
            Assert.False(retry.Headers.Contains("Idempotent-Replayed"));
        }

        Assert.Single(app.Clients.Client("t1").Sent);
    }

    [Fact]
    public async Task A_duplicate_while_the_first_is_sending_is_409_in_progress_then_gets_the_same_message_id()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("t1");
        var behaviour = app.Clients.For("t1");
        behaviour.SendGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var first = SendAsync(app, "t1", Hi, "slow");
        await behaviour.SendCalled.Task.WaitAsync(TimeSpan.FromSeconds(30));

        using (var duplicate = await SendAsync(app, "t1", Hi, "slow"))
        {
            await Responses.AssertProblemAsync(duplicate, 409);
            Assert.Equal("in_progress", await Responses.ErrorCodeAsync(duplicate));
            Assert.Equal(TimeSpan.FromSeconds(1), duplicate.Headers.RetryAfter?.Delta);
        }

        behaviour.SendGate.SetResult();
        using var firstResponse = await first;
        string id = await MessageIdAsync(firstResponse);

        using (var retry = await SendAsync(app, "t1", Hi, "slow"))
        {
            Assert.Equal(id, await MessageIdAsync(retry));
        }

        Assert.Single(app.Clients.Client("t1").Sent);
    }

    [Fact]
    public async Task Many_concurrent_duplicates_cause_exactly_one_send()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("t1");

        var responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => SendAsync(app, "t1", Hi, "burst"))));
        try
        {
            var accepted = responses.Where(r => r.StatusCode == HttpStatusCode.Accepted).ToArray();
            Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.Accepted, HttpStatusCode.Conflict }));
            Assert.NotEmpty(accepted);
            var ids = new HashSet<string>();
            foreach (var response in accepted)
            {
                ids.Add(await MessageIdAsync(response));
            }

            Assert.Single(ids);
            Assert.Single(app.Clients.Client("t1").Sent);
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_key_is_free_again_after_24_hours()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("t1");
        using (var first = await SendAsync(app, "t1", Hi, "daily"))
        {
            await MessageIdAsync(first);
        }

        app.Time.Advance(TenantIdempotency.Retention);

        using (var next = await SendAsync(app, "t1", Bye, "daily"))
        {
            await MessageIdAsync(next);
            Assert.False(next.Headers.Contains("Idempotent-Replayed"));
        }

        Assert.Equal(2, app.Clients.Client("t1").Sent.Count);
    }

    [Fact]
    public async Task An_invalid_body_with_a_key_is_answered_by_the_endpoint_and_does_not_use_the_key()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("t1");
        using (var bad = await SendAsync(app, "t1", """{"to":"15551234567"}""", "k"))
        {
            await Responses.AssertProblemAsync(bad, 400);
        }

        using (var good = await SendAsync(app, "t1", Hi, "k"))
        {
            await MessageIdAsync(good);
        }

        Assert.Single(app.Clients.Client("t1").Sent);
    }

    private static Task<HttpResponseMessage> SendAsync(TestApp app, string tenant, string body, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/tenants/{tenant}/messages") { Content = TestApp.Body(body) };
        if (key is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        }

        return app.Http.SendAsync(request);
    }

    private static async Task<string> MessageIdAsync(HttpResponseMessage response)
    {
        using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(response, 202));
        return json.RootElement.GetProperty("message_id").GetString()!;
    }
}
