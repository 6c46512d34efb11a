using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Deployment.Tests.Infrastructure;

namespace MultiTenant.CloudApi.Tests;

/// <summary>
/// Every message kind through the real pipeline: <c>POST /api/tenants/{business_id}/messages</c> of the tenant API over the Cloud API
/// client to the fake Graph API on loopback, the exact Graph JSON of each; refusals before any Graph call; idempotent template sends.
/// </summary>
public sealed partial class SendKindsApiTests : IAsyncLifetime
{
    private const string Phone = "106540352242922";
    private const string MetaPrefix = "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"to\":\"15551234567\"";

    private FakeGraphApi _graph = null!;
    private CloudApiTestHost _host = null!;

    public async Task InitializeAsync()
    {
        _graph = await FakeGraphApi.StartAsync();
        _host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await _host.AddTenantAsync(_graph, "A", Phone, "EAAGtoken-a");
        await _host.StartConnectedAsync(tenant);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _graph.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(MessageKindsTests.Kinds), MemberType = typeof(MessageKindsTests))]
    public async Task Meta_s_documented_message_object_of_each_kind_is_sent_as_is(string kind)
    {
        // The request is the very body Meta documents for POST /{phone-number-id}/messages; Graph receives it byte for byte.
        string body = MetaPrefix + MessageKindsTests.Cases[kind].Json;

        using var response = await PostAsync(body);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("wamid.FAKE1", await MessageIdAsync(response));
        var send = Assert.Single(_graph.Sends);
        Assert.Equal("/v21.0/" + Phone + "/messages", send.Path);
        Assert.Equal(body, send.Body);
    }

    /// <summary>The README's examples (section "Sending every kind over HTTP") and the Graph body each must become.</summary>
    public static readonly Dictionary<string, string> ReadmeExamples = new(StringComparer.Ordinal)
    {
        ["""{"to":"15551234567","type":"text","text":{"body":"Our menu: https://example.com/menu","preview_url":true}}"""] =
            ""","type":"text","text":{"preview_url":true,"body":"Our menu: https://example.com/menu"}}""",
        ["""{"to":"15551234567","context":{"message_id":"wamid.HBgLMTU1NTEyMzQ1NjcVAgASGBQzQTdCNTg5RjY1MEQyRjE5QjgxMwA="},"type":"text","text":{"body":"Yes, we are open."}}"""] =
            ""","context":{"message_id":"wamid.HBgLMTU1NTEyMzQ1NjcVAgASGBQzQTdCNTg5RjY1MEQyRjE5QjgxMwA="},"type":"text","text":{"preview_url":false,"body":"Yes, we are open."}}""",
        ["""{"to":"15551234567","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}"""] =
            ""","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}""",
        ["""{"to":"15551234567","type":"template","template":{"name":"order_update","language":{"code":"en_US"},"components":[{"type":"header","parameters":[{"type":"image","image":{"link":"https://example.com/box.png"}}]},{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"currency","currency":{"fallback_value":"$100.99","code":"USD","amount_1000":100990}}]},{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"TRACK-42"}]}]}}"""] =
            ""","type":"template","template":{"name":"order_update","language":{"code":"en_US"},"components":[{"type":"header","parameters":[{"type":"image","image":{"link":"https://example.com/box.png"}}]},{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"currency","currency":{"fallback_value":"$100.99","code":"USD","amount_1000":100990}}]},{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"TRACK-42"}]}]}}""",
        ["""{"to":"15551234567","type":"image","image":{"link":"https://example.com/menu.jpg","caption":"The new menu"}}"""] =
            ""","type":"image","image":{"link":"https://example.com/menu.jpg","caption":"The new menu"}}""",
        ["""{"to":"15551234567","type":"document","document":{"id":"1037543291543636","filename":"invoice-42.pdf","caption":"Your invoice"}}"""] =
            ""","type":"document","document":{"id":"1037543291543636","caption":"Your invoice","filename":"invoice-42.pdf"}}""",
        ["""{"to":"15551234567","type":"audio","audio":{"id":"1013859600285441"}}"""] =
            ""","type":"audio","audio":{"id":"1013859600285441"}}""",
        ["""{"to":"15551234567","type":"video","video":{"link":"https://example.com/clip.mp4","caption":"Unboxing"}}"""] =
            ""","type":"video","video":{"link":"https://example.com/clip.mp4","caption":"Unboxing"}}""",
        ["""{"to":"15551234567","type":"sticker","sticker":{"id":"798882015472548"}}"""] =
            ""","type":"sticker","sticker":{"id":"798882015472548"}}""",
        ["""{"to":"15551234567","type":"location","location":{"latitude":37.44216251868683,"longitude":-122.16153582049394,"name":"Philz Coffee","address":"101 Forest Ave, Palo Alto, CA 94301"}}"""] =
            ""","type":"location","location":{"latitude":37.44216251868683,"longitude":-122.16153582049394,"name":"Philz Coffee","address":"101 Forest Ave, Palo Alto, CA 94301"}}""",
        ["""{"to":"15551234567","type":"contacts","contacts":[{"name":{"formatted_name":"Barbara J. Johnson","first_name":"Barbara"},"phones":[{"phone":"+1 (650) 555-1234","type":"WORK","wa_id":"16505551234"}],"emails":[{"email":"bjohnson@example.com","type":"WORK"}]}]}"""] =
            ""","type":"contacts","contacts":[{"emails":[{"email":"bjohnson@example.com","type":"WORK"}],"name":{"formatted_name":"Barbara J. Johnson","first_name":"Barbara"},"phones":[{"phone":"\u002B1 (650) 555-1234","type":"WORK","wa_id":"16505551234"}]}]}""",
        ["""{"to":"15551234567","type":"reaction","reaction":{"message_id":"wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTRCRDcwNzgzMTRDNTAwRTgwRQA=","emoji":"👍"}}"""] =
            ""","type":"reaction","reaction":{"message_id":"wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTRCRDcwNzgzMTRDNTAwRTgwRQA=","emoji":"\uD83D\uDC4D"}}""",
        ["""{"to":"15551234567","type":"interactive","interactive":{"type":"button","header":{"type":"text","text":"Appointment"},"body":{"text":"Change your appointment?"},"footer":{"text":"Lucky Shrub"},"action":{"buttons":[{"type":"reply","reply":{"id":"change","title":"Change"}},{"type":"reply","reply":{"id":"cancel","title":"Cancel"}}]}}}"""] =
            ""","type":"interactive","interactive":{"type":"button","header":{"type":"text","text":"Appointment"},"body":{"text":"Change your appointment?"},"footer":{"text":"Lucky Shrub"},"action":{"buttons":[{"type":"reply","reply":{"id":"change","title":"Change"}},{"type":"reply","reply":{"id":"cancel","title":"Cancel"}}]}}}""",
        ["""{"to":"15551234567","type":"interactive","interactive":{"type":"list","body":{"text":"Which shipping option?"},"action":{"button":"Shipping Options","sections":[{"title":"I want it ASAP!","rows":[{"id":"priority_express","title":"Priority Mail Express","description":"Next Day to 2 Days"}]},{"title":"I can wait a bit","rows":[{"id":"ground","title":"USPS Ground Advantage","description":"2 to 5 Days"}]}]}}}"""] =
            ""","type":"interactive","interactive":{"type":"list","body":{"text":"Which shipping option?"},"action":{"button":"Shipping Options","sections":[{"title":"I want it ASAP!","rows":[{"id":"priority_express","title":"Priority Mail Express","description":"Next Day to 2 Days"}]},{"title":"I can wait a bit","rows":[{"id":"ground","title":"USPS Ground Advantage","description":"2 to 5 Days"}]}]}}}""",
    };

    public static TheoryData<string> ReadmeBodies() => new(ReadmeExamples.Keys);

    [Theory]
    [MemberData(nameof(ReadmeBodies))]
    public async Task Each_readme_example_is_sent_as_the_documented_graph_json(string body)
    {
        using var response = await PostAsync(body);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(MetaPrefix + ReadmeExamples[body], Assert.Single(_graph.Sends).Body);
    }

    [Fact]
    public void The_readme_shows_a_curl_example_per_kind_and_each_is_tested()
    {
        string readme = Repository.Read("README.md");
        int start = readme.IndexOf("### Sending every kind over HTTP", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no section 'Sending every kind over HTTP'.");
        int end = readme.IndexOf("\n### ", start + 4, StringComparison.Ordinal);
        string section = readme[start..end];

        var bodies = CurlBody().Matches(section).Select(static m => m.Groups[1].Value).ToList();
        var accepted = bodies.Where(ReadmeExamples.ContainsKey).ToList();

        // Every example but the last (the refused one) is a body this class sends, every kind is shown, every curl carries the key.
        Assert.Equal(bodies.Count - 1, accepted.Count);
        Assert.Equal(ReadmeExamples.Count, accepted.Distinct(StringComparer.Ordinal).Count());
        Assert.Contains(bodies[^1], InvalidBodies.Select(static c => c.Body));
        var kinds = accepted.Select(static b => JsonDocument.Parse(b).RootElement.GetProperty("type").GetString()).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(["audio", "contacts", "document", "image", "interactive", "location", "reaction", "sticker", "template", "text", "video"], kinds.Order(StringComparer.Ordinal));
        Assert.Contains(accepted, static b => b.Contains("\"context\"", StringComparison.Ordinal));
        foreach (string line in section.Split('\n').Where(static l => l.StartsWith("curl ", StringComparison.Ordinal)))
        {
            Assert.Contains("-H \"Authorization: Bearer $API_KEY\"", line, StringComparison.Ordinal);
            Assert.Contains("-H 'Content-Type: application/json'", line, StringComparison.Ordinal);
        }
    }

    /// <summary>Bodies over one of Meta's limits or malformed, with the member the problem's detail names.</summary>
    public static readonly (string Body, string Detail)[] InvalidBodies =
    [
        ("""{"to":"15551234567","type":"interactive","interactive":{"type":"button","body":{"text":"Pick"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"One"}},{"type":"reply","reply":{"id":"2","title":"Two"}},{"type":"reply","reply":{"id":"3","title":"Three"}},{"type":"reply","reply":{"id":"4","title":"Four"}}]}}}""",
            "A button message has 1 to 3 reply buttons; it has 4."),
        ("""{"to":"15551234567","type":"interactive","interactive":{"type":"button","body":{"text":"Pick"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"A title of 21 chars!!"}}]}}}""",
            "'interactive.action.buttons.reply.title' must be 1 to 20 characters long; it has 21."),
        ("""{"to":"15551234567","type":"interactive","interactive":{"type":"list","body":{"text":"Pick"},"action":{"button":"Open","sections":[{"title":"A","rows":[{"id":"1","title":"1"},{"id":"2","title":"2"},{"id":"3","title":"3"},{"id":"4","title":"4"},{"id":"5","title":"5"},{"id":"6","title":"6"}]},{"title":"B","rows":[{"id":"7","title":"7"},{"id":"8","title":"8"},{"id":"9","title":"9"},{"id":"10","title":"10"},{"id":"11","title":"11"}]}]}}}""",
            "A list has 1 to 10 rows in all its sections; it has 11."),
        ("{\"to\":\"15551234567\",\"type\":\"text\",\"text\":{\"body\":\"" + new string('x', 4097) + "\"}}",
            "'text' must be at most 4096 characters long; it has 4097."),
        ("""{"to":"15551234567","type":"sticker","sticker":{"id":"798882015472548","caption":"no"}}""",
            "A sticker message cannot have a caption."),
        ("""{"to":"15551234567","type":"audio","audio":{"id":"1","filename":"a.ogg"}}""",
            "Only a document has a file name."),
        ("""{"to":"15551234567","type":"image","image":{"link":"https://example.com/a.png","captoin":"typo"}}""",
            "The member 'captoin' is not accepted in 'image'"),
        ("""{"to":"15551234567","type":"image","image":{"id":"1","link":"https://example.com/a.png"}}""",
            "'image' needs exactly one of 'id' (an uploaded media id) and 'link'."),
        ("""{"to":"15551234567","type":"image","text":{"body":"hi"},"image":{"id":"1"}}""",
            "'text' does not belong to a message of type 'image'"),
        ("""{"to":"15551234567","type":"template","template":{"name":"hello_world"}}""",
            "'template.language' is required."),
        ("""{"to":"15551234567","type":"template","template":{"name":"t","language":{"code":"en_US"},"components":[{"type":"button","parameters":[{"type":"payload","payload":"p"}]}]}}""",
            "A button component needs a 'sub_type' (quick_reply, url or copy_code) and an 'index' from 0 to 9."),
        ("""{"to":"15551234567","type":"location","location":{"latitude":91,"longitude":0}}""",
            "The latitude must be between -90 and 90 degrees."),
        ("""{"to":"15551234567","type":"reaction","reaction":{"emoji":"x"}}""",
            "'reaction.message_id' is required."),
        ("""{"to":"15551234567","context":{"message_id":""},"type":"text","text":{"body":"hi"}}""",
            "The id of the message replied to is empty."),
        ("""{"to":"15551234567","type":"poll","poll":{}}""",
            "Unknown message type 'poll'."),
        ("""{"to":"15551234567","type":"text","text":{"body":"a","body":"b"}}""",
            "'text.body' appears more than once."),
    ];

    public static TheoryData<int> InvalidCases() => new(Enumerable.Range(0, InvalidBodies.Length));

    [Theory]
    [MemberData(nameof(InvalidCases))]
    public async Task A_message_over_a_limit_or_malformed_is_a_400_naming_the_member_and_graph_sees_no_send(int index)
    {
        var (body, detail) = InvalidBodies[index];

        using var response = await PostAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(detail, problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("invalid_message", problem.RootElement.GetProperty("error_code").GetString());
        Assert.DoesNotContain(_graph.Requests, static r => r.Method == "POST");
    }

    [Fact]
    public async Task An_idempotent_template_send_reaches_graph_once_and_another_body_with_the_key_is_422()
    {
        const string Template = """{"to":"15551234567","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}""";
        const string OtherTemplate = """{"to":"15551234567","type":"template","template":{"name":"hello_world","language":{"code":"pt_BR"}}}""";

        string? first = null;
        for (int i = 0; i < 3; i++)
        {
            using var response = await PostAsync(Template, "order-42-confirmation");
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            string id = await MessageIdAsync(response);
            first ??= id;
            Assert.Equal(first, id);
        }

        using (var other = await PostAsync(OtherTemplate, "order-42-confirmation"))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, other.StatusCode);
            using var problem = JsonDocument.Parse(await other.Content.ReadAsStringAsync());
            Assert.Equal("idempotency_key_reused", problem.RootElement.GetProperty("error_code").GetString());
        }

        var send = Assert.Single(_graph.Sends);
        Assert.Equal(MetaPrefix + ""","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}""", send.Body);
    }

    private async Task<HttpResponseMessage> PostAsync(string json, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/tenants/A/messages") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return await _host.Http.SendAsync(request);
    }

    private static async Task<string> MessageIdAsync(HttpResponseMessage response)
    {
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("message_id").GetString()!;
    }

    [GeneratedRegex(@"^  -d '(.*)'\s*$", RegexOptions.Multiline)]
    private static partial Regex CurlBody();
}
