using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Tests.Infrastructure;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>Bad bodies, ids and content types: every one answered 4xx problem details, never a crash or a stack trace.</summary>
public sealed class BadInputTests
{
    public static TheoryData<string, string> BadStartBodies => new()
    {
        { "", "empty" },
        { "   \r\n\t ", "empty" },
        { "not json", "not valid JSON" },
        { "{", "not valid JSON" },
        { "{\"business_id\":\"tenant1\"", "not valid JSON" },
        { "{\"business_id\":\"tenant1\",}", "not valid JSON" },
        { "{\"business_id\":'tenant1'}", "not valid JSON" },
        { "{\"business_id\":\"tenant1\"} {}", "not valid JSON" },
        { "{\"business_id\":\"tenant1\"} trailing", "not valid JSON" },
        { "{/*c*/\"business_id\":\"tenant1\"}", "not valid JSON" },
        { "{\"business_id\":\"ten\u0001ant\"}", "not valid JSON" },
        { "[]", "must be a JSON object" },
        { "[{\"business_id\":\"tenant1\"}]", "must be a JSON object" },
        { "\"tenant1\"", "must be a JSON object" },
        { "42", "must be a JSON object" },
        { "null", "must be a JSON object" },
        { "{}", "'business_id' is missing" },
        { "{\"business_id\":5}", "'business_id' must be a string; it is a number" },
        { "{\"business_id\":true}", "'business_id' must be a string; it is a boolean" },
        { "{\"business_id\":{}}", "'business_id' must be a string; it is an object" },
        { "{\"business_id\":[\"tenant1\"]}", "'business_id' must be a string; it is an array" },
        { "{\"business_id\":null}", "'business_id' must be a string, not null" },
        { "{\"businessId\":\"tenant1\"}", "The member 'businessId' is not accepted" },
        { "{\"business_id\":\"tenant1\",\"extra\":1}", "The member 'extra' is not accepted" },
        { "{\"business_id\":\"tenant1\",\"\\u0000\":1}", "An unknown member is not accepted" },
        { "{\"business_id\":\"a\",\"business_id\":\"b\"}", "'business_id' appears more than once" },
        { "{\"business_id\":\"\"}", "must not be empty" },
        { "{\"business_id\":\"ten\\u0000ant\"}", "position 4 is not allowed" },
        { "{\"business_id\":\"ten\\nant\"}", "position 4 is not allowed" },
        { "{\"business_id\":\"ten\\u001bant\"}", "position 4 is not allowed" },
        { "{\"business_id\":\"tenant 1\"}", "position 7 is not allowed" },
        { "{\"business_id\":\"_tenant\"}", "must start with a letter" },
        { "{\"business_id\":\"t\\u00e9nant\"}", "position 2 is not allowed" },
        { "{\"business_id\":\"\\ud800\"}", "not valid" },
        { "{\"business_id\":\"" + new string('x', 65) + "\"}", "at most 64 characters long; it has 65" },
        { new string('[', 5000) + new string(']', 5000), "must be a JSON object" },
        { "{\"business_id\":" + new string('[', 5000) + new string(']', 5000) + "}", "it is an array" },
    };

    [Theory]
    [MemberData(nameof(BadStartBodies))]
    public async Task A_bad_start_body_answers_400_with_a_clear_detail(string body, string expectedDetail)
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.PostJsonAsync("/api/tenants", body);

        string detail = await Responses.AssertProblemAsync(response, 400);
        Assert.Contains(expectedDetail, detail, StringComparison.Ordinal);
        Assert.Empty(await app.Coordinator.ListStatusesAsync());
    }

    [Fact]
    public async Task A_10000_character_id_answers_400_with_the_length_reason()
    {
        await using var app = await TestApp.StartAsync();
        string id = new('a', 10_000);

        using var response = await app.PostJsonAsync("/api/tenants", $$"""{"business_id":"{{id}}"}""");

        Assert.Equal("The business id must be at most 64 characters long; it has 10000.", await Responses.AssertProblemAsync(response, 400));
    }

    [Fact]
    public async Task Invalid_utf8_answers_400()
    {
        await using var app = await TestApp.StartAsync();
        var content = new ByteArrayContent([.. "{\"business_id\":\"t"u8, 0xFF, 0xFE, .. "\"}"u8]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await app.Http.PostAsync("/api/tenants", content);

        await Responses.AssertProblemAsync(response, 400);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("text/plain")]
    [InlineData("text/plain; charset=utf-8")]
    [InlineData("application/xml")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("application/jsonp")]
    [InlineData("application/json; charset=utf-16")]
    [InlineData("application/json; charset=iso-8859-1")]
    public async Task A_body_that_is_not_utf8_json_answers_415(string? contentType)
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.Http.PostAsync("/api/tenants", TestApp.Body("""{"business_id":"tenant1"}""", contentType));

        string detail = await Responses.AssertProblemAsync(response, 415);
        Assert.Contains("application/json", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_form_post_answers_415()
    {
        await using var app = await TestApp.StartAsync();
        using var form = new FormUrlEncodedContent([new KeyValuePair<string, string>("business_id", "tenant1")]);

        using var response = await app.Http.PostAsync("/api/tenants", form);

        await Responses.AssertProblemAsync(response, 415);
        Assert.Empty(await app.Coordinator.ListStatusesAsync());
    }

    [Fact]
    public async Task A_multipart_form_post_to_messages_answers_415()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        using var form = new MultipartFormDataContent { { new StringContent("15551234567"), "to" }, { new StringContent("hi"), "text" } };

        using var response = await app.Http.PostAsync("/api/tenants/tenant1/messages", form);

        await Responses.AssertProblemAsync(response, 415);
    }

    [Fact]
    public async Task A_2_MiB_body_answers_413()
    {
        await using var app = await TestApp.StartAsync();
        string body = $$"""{"business_id":"tenant1","padding":"{{new string('x', 2 * 1024 * 1024)}}"}""";

        using var response = await app.PostJsonAsync("/api/tenants", body);

        string detail = await Responses.AssertProblemAsync(response, 413);
        Assert.Equal("The request body is larger than the limit of 65536 bytes.", detail);
        Assert.Empty(await app.Coordinator.ListStatusesAsync());
    }

    [Fact]
    public async Task A_2_MiB_body_without_a_content_length_answers_413()
    {
        await using var app = await TestApp.StartAsync();
        var content = new StreamContent(new UnknownLengthStream(new byte[2 * 1024 * 1024]));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await app.Http.PostAsync("/api/tenants", content);

        Assert.Null(content.Headers.ContentLength);
        await Responses.AssertProblemAsync(response, 413);
    }

    [Fact]
    public async Task A_2_MiB_message_answers_413()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        string body = $$"""{"to":"15551234567","text":"{{new string('x', 2 * 1024 * 1024)}}"}""";

        using var response = await app.PostJsonAsync("/api/tenants/tenant1/messages", body);

        await Responses.AssertProblemAsync(response, 413);
        Assert.Empty(app.Clients.Client("tenant1").Sent);
    }

    [Fact]
    public async Task The_body_limit_is_configurable_and_exact()
    {
        await using var app = await TestApp.StartAsync(b => b.Services.Configure<TenantApiOptions>(o => o.MaxRequestBodySize = 40));
        string atLimit = """{"business_id":"tenant1"}""".PadRight(40);
        string overLimit = """{"business_id":"tenant2"}""".PadRight(41);

        using var ok = await app.PostJsonAsync("/api/tenants", atLimit);
        using var tooLarge = await app.PostJsonAsync("/api/tenants", overLimit);

        Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
        Assert.Equal("The request body is larger than the limit of 40 bytes.", await Responses.AssertProblemAsync(tooLarge, 413));
    }

    public static TheoryData<string, string> BadMessageBodies => new()
    {
        { "", "empty" },
        { "{\"to\":\"15551234567\"}", "A message of type 'text' needs a 'text' member." },
        { "{\"text\":\"hi\"}", "'to' is required." },
        { "{\"to\":15551234567,\"text\":\"hi\"}", "'to' must be a string." },
        { "{\"to\":\"15551234567\",\"text\":null}", "'text' must be an object." },
        { "{\"to\":\"15551234567\",\"text\":[\"hi\"]}", "'text' must be an object." },
        { "{\"to\":\"15551234567\",\"text\":\"hi\",\"media\":\"x\"}", "The member 'media' is not accepted" },
        { "{\"to\":\"15551234567\",\"to\":\"15551234568\",\"text\":\"hi\"}", "The member 'to' appears more than once." },
        { "{\"to\":\"15551234567\",\"type\":\"text\",\"text\":{\"body\":\"\"}}", "'text' must not be empty" },
        { "{\"to\":\"15551234567\",\"type\":\"text\",\"text\":{\"body\":\"hi\",\"preview\":true}}", "The member 'preview' is not accepted in 'text', which has 'body', 'preview_url'." },
        { "{\"to\":\"15551234567\",\"text\":\"h\\udc00i\"}", "not valid UTF-8 or not valid Unicode" },
        { "[1]", "The message must be a JSON object." },
        { "{\"to\":\"15551234567\",", "The message is not valid JSON (line 1" },
        { "{\"to\":\"\",\"text\":\"hi\"}", "'to' must not be empty" },
        { "{\"to\":\"+15551234567\",\"text\":\"hi\"}", "'to' must be a phone number" },
        { "{\"to\":\"1555 123 4567\",\"text\":\"hi\"}", "'to' must be a phone number" },
        { "{\"to\":\"1555\\n1234567\",\"text\":\"hi\"}", "'to' must be a phone number" },
        { "{\"to\":\"1555\\u00001234567\",\"text\":\"hi\"}", "'to' must be a phone number" },
        { "{\"to\":\"abc\",\"text\":\"hi\"}", "'to' must be a phone number" },
        { "{\"to\":\"@s.whatsapp.net\",\"text\":\"hi\"}", "'to' must be a phone number" },
        { "{\"to\":\"15551234567@\",\"text\":\"hi\"}", "'to' must be a phone number" },
        { "{\"to\":\"1555@s.whats app.net\",\"text\":\"hi\"}", "'to' must be a phone number" },
        { "{\"to\":\"123456789012345678901234567890123\",\"text\":\"hi\"}", "at most 32 digits; it has 33" },
        { "{\"to\":\"" + new string('1', 129) + "\",\"text\":\"hi\"}", "at most 128 characters long; it has 129" },
        { "{\"to\":\"15551234567\",\"text\":\"\"}", "'text' must not be empty" },
        { "{\"to\":\"15551234567\",\"text\":\"h\\u0000i\"}", "'text' must not contain NUL characters" },
        { "{\"to\":\"15551234567\",\"text\":\"" + new string('x', 4097) + "\"}", "'text' must be at most 4096 characters long; it has 4097" },
    };

    [Theory]
    [MemberData(nameof(BadMessageBodies))]
    public async Task A_bad_message_body_answers_400_and_sends_nothing(string body, string expectedDetail)
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");

        using var response = await app.PostJsonAsync("/api/tenants/tenant1/messages", body);

        string detail = await Responses.AssertProblemAsync(response, 400);
        Assert.Contains(expectedDetail, detail, StringComparison.Ordinal);
        Assert.Empty(app.Clients.Client("tenant1").Sent);
    }

    [Fact]
    public async Task A_message_to_an_invalid_id_answers_400()
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.PostJsonAsync("/api/tenants/bad%20id/messages", """{"to":"15551234567","text":"hi"}""");

        await Responses.AssertProblemAsync(response, 400);
    }

    /// <summary>
    /// 200 deterministic junk requests (seeded): random bytes, truncated and mangled JSON, valid JSON of the wrong shape, odd content
    /// types and junk ids, against both POST endpoints. Every one is answered 4xx problem details and the server keeps answering.
    /// </summary>
    [Fact]
    public async Task Two_hundred_junk_requests_are_all_answered_4xx_problem_details_and_the_server_stays_up()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        var random = new Random(20250107);
        string[] contentTypes = ["application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "application/octet-stream"];
        string valid = """{"business_id":"tenant1"}""";
        string validMessage = """{"to":"15551234567","text":"hi"}""";
        var statuses = new SortedSet<int>();

        for (int i = 0; i < 200; i++)
        {
            bool toMessages = random.Next(3) == 0;
            string path = toMessages ? $"/api/tenants/{JunkId(random)}/messages" : "/api/tenants";
            byte[] body = (random.Next(6)) switch
            {
                0 => RandomBytes(random, random.Next(0, 512)),
                1 => Encoding.UTF8.GetBytes((toMessages ? validMessage : valid)[..random.Next(0, (toMessages ? validMessage : valid).Length)]),
                2 => Mangle(random, Encoding.UTF8.GetBytes(toMessages ? validMessage : valid)),
                3 => Encoding.UTF8.GetBytes(RandomJsonOfWrongShape(random, depth: 0)),
                4 => Encoding.UTF8.GetBytes(RandomAscii(random, random.Next(0, 300))),
                _ => Encoding.UTF8.GetBytes($$"""{"business_id":"{{RandomAscii(random, random.Next(65, 400)).Replace("\\", "", StringComparison.Ordinal).Replace("\"", "", StringComparison.Ordinal)}}"}"""),
            };
            var content = new ByteArrayContent(body);
            if (random.Next(5) != 0)
            {
                content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentTypes[random.Next(contentTypes.Length)]);
            }

            using var response = await app.Http.PostAsync(path, content);

            int status = (int)response.StatusCode;
            string text = await response.Content.ReadAsStringAsync();
            Assert.True(status is >= 400 and < 500, $"Junk request {i} to {path} was answered {status}: {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            using var json = JsonDocument.Parse(text);
            Assert.Equal(status, json.RootElement.GetProperty("status").GetInt32());
            Assert.False(string.IsNullOrWhiteSpace(json.RootElement.GetProperty("detail").GetString()));
            Responses.AssertNoExceptionText(text);
            statuses.Add(status);
        }

        // The junk reached the body parser, the content-type check and the id validation, not just one of them.
        Assert.Superset(new SortedSet<int> { 400, 415 }, statuses);

        using var live = await app.Http.GetAsync("/livez");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        using var list = await app.Http.GetAsync("/api/tenants");
        using var listed = JsonDocument.Parse(await Responses.AssertJsonAsync(list, 200));
        Assert.Equal("tenant1", Assert.Single(listed.RootElement.EnumerateArray()).GetProperty("business_id").GetString());
        using var start = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant2"}""");
        Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        using var send = await app.PostJsonAsync("/api/tenants/tenant1/messages", validMessage);
        Assert.Equal(HttpStatusCode.Accepted, send.StatusCode);
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string RandomAscii(Random random, int length)
    {
        var text = new char[length];
        for (int i = 0; i < length; i++)
        {
            text[i] = (char)random.Next(0, 128);
        }

        return new string(text);
    }

    /// <summary>Deletes, inserts or replaces a few bytes, keeping the result invalid: the closing brace is always removed.</summary>
    private static byte[] Mangle(Random random, byte[] valid)
    {
        var bytes = new List<byte>(valid[..^1]);
        for (int n = random.Next(1, 4); n > 0 && bytes.Count > 0; n--)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(3))
            {
                case 0: bytes.RemoveAt(at); break;
                case 1: bytes.Insert(at, (byte)random.Next(256)); break;
                default: bytes[at] = (byte)random.Next(256); break;
            }
        }

        return [.. bytes];
    }

    /// <summary>Valid JSON that is never a body the API accepts: arrays, scalars, or objects whose members are not strings.</summary>
    private static string RandomJsonOfWrongShape(Random random, int depth)
    {
        int kind = depth > 4 ? random.Next(3) : random.Next(6);
        return kind switch
        {
            0 => random.Next(-1000, 1000).ToString(System.Globalization.CultureInfo.InvariantCulture),
            1 => random.Next(2) == 0 ? "true" : "null",
            2 => "\"" + RandomAscii(random, random.Next(10)).Replace("\\", "", StringComparison.Ordinal).Replace("\"", "", StringComparison.Ordinal)
                .Where(c => c >= ' ').Aggregate(string.Empty, (s, c) => s + c) + "\"",
            3 => "[" + RandomJsonOfWrongShape(random, depth + 1) + "," + RandomJsonOfWrongShape(random, depth + 1) + "]",
            4 => "{\"business_id\":" + RandomJsonOfWrongShape(random, depth + 1) + ",\"to\":" + RandomJsonOfWrongShape(random, depth + 1) + "}",
            _ => "{\"business_id\":[" + RandomJsonOfWrongShape(random, depth + 1) + "]}",
        };
    }

    /// <summary>A path segment: usually invalid as a business id, never only dots (which the client would collapse).</summary>
    private static string JunkId(Random random)
    {
        string raw = random.Next(4) == 0 ? "tenant" + random.Next(10) : "x" + RandomAscii(random, random.Next(1, 80));
        return Uri.EscapeDataString(raw.Replace("\0", "0", StringComparison.Ordinal));
    }

    /// <summary>A stream whose length is unknown, so the client sends it chunked, without a Content-Length.</summary>
    private sealed class UnknownLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
