using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace MultiTenant.AspNetCore.Tests.Fuzz;

/// <summary>One generated request: enough to send it and to describe it in a failure message.</summary>
internal sealed record FuzzRequest(int Index, string Method, string Path, IReadOnlyList<KeyValuePair<string, string>> Headers, byte[]? Body, string BodyKind)
{
    public string Describe() =>
        $"#{Index}: {Method} {(Path.Length > 200 ? Path[..200] + "…" : Path)} [{string.Join("; ", Headers.Select(h => h.Key + ": " + (h.Value.Length > 80 ? h.Value[..80] + "…" : h.Value)))}] body {BodyKind} ({Body?.Length ?? 0} bytes)";

    public HttpRequestMessage ToMessage()
    {
        var message = new HttpRequestMessage(new HttpMethod(Method), Path);
        if (Body is not null)
        {
            message.Content = new ByteArrayContent(Body);
        }

        foreach (var (name, value) in Headers)
        {
            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                message.Content ??= new ByteArrayContent([]);
                message.Content.Headers.TryAddWithoutValidation(name, value);
            }
            else
            {
                message.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return message;
    }
}

/// <summary>
/// Deterministic junk requests: request <c>i</c> of seed <c>s</c> is always the same (its own <see cref="Random"/> from both), so a
/// failure names the seed and index that reproduce it whatever order the requests ran in.
/// </summary>
internal static class FuzzRequests
{
    /// <summary>Tenants the test starts before the fuzz, so sends and reads also reach real ones.</summary>
    public static readonly string[] KnownTenants = ["fuzz1", "fuzz2", "fuzz3"];

    private static readonly string[] Methods = ["GET", "GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "FUZZ"];

    private static readonly string[] ContentTypes =
    [
        "application/json", "application/json", "application/json; charset=utf-8", "application/problem+json", "application/vnd.x+json",
        "application/json; charset=utf-16", "application/json; charset=\"utf-8\"", "application/json; boundary=x; charset=latin1",
        "text/plain", "text/html", "application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=zz",
        "application/octet-stream", "*/*", "application/", "/json", "json", "application/json;;;", "a/b/c", "",
    ];

    private static readonly string[] Accepts = ["application/json", "*/*", "text/html", "application/xml", "application/problem+json", "image/*;q=0.1", ";;", "text/event-stream"];

    public static FuzzRequest Create(int seed, int index, string adminKey)
    {
        var random = new Random(HashCode.Combine(seed, index));
        string path = Path(random);
        string method = random.Next(10) < 7 ? LikelyMethod(random, path) : Methods[random.Next(Methods.Length)];
        var headers = new List<KeyValuePair<string, string>>();
        switch (random.Next(20))
        {
            case 0: break; // no key
            case 1: headers.Add(new("Authorization", "Bearer " + RandomPrintable(random, random.Next(0, 100)))); break;
            case 2: headers.Add(new("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + adminKey)))); break;
            case 3: headers.Add(new("X-Api-Key", adminKey)); break;
            case 4: headers.Add(new("X-Api-Key", RandomPrintable(random, random.Next(0, 300)))); headers.Add(new("Authorization", "Bearer " + adminKey)); break;
            case 5: headers.Add(new("Authorization", "Bearer")); break;
            default: headers.Add(new("Authorization", "Bearer " + adminKey)); break;
        }

        if (random.Next(3) == 0)
        {
            headers.Add(new("Accept", Accepts[random.Next(Accepts.Length)]));
        }

        if (random.Next(6) == 0)
        {
            headers.Add(new("Idempotency-Key", random.Next(4) == 0 ? RandomPrintable(random, random.Next(200, 400)) : "key-" + random.Next(50)));
        }

        if (random.Next(15) == 0)
        {
            headers.Add(new("X-Fuzz-" + random.Next(1000).ToString(CultureInfo.InvariantCulture), RandomPrintable(random, random.Next(0, 4000))));
        }

        if (random.Next(25) == 0)
        {
            headers.Add(new("Origin", "http://evil.example"));
            headers.Add(new("Cookie", RandomPrintable(random, random.Next(0, 200)).Replace(";", "", StringComparison.Ordinal)));
        }

        var (body, kind) = Body(random, path);
        if (body is not null && random.Next(8) != 0)
        {
            headers.Add(new("Content-Type", ContentTypes[random.Next(ContentTypes.Length)]));
        }

        return new FuzzRequest(index, method, path, headers, body, kind);
    }

    /// <summary>A method the path is mapped with, mostly, so that most requests get past routing to the endpoints.</summary>
    private static string LikelyMethod(Random random, string path)
    {
        string route = path.Split('?')[0];
        string[] candidates = route switch
        {
            "/api/tenants" => ["POST", "POST", "GET"],
            _ when route.EndsWith("/messages", StringComparison.Ordinal) || route.EndsWith("/restart", StringComparison.Ordinal)
                || route.EndsWith("/logout", StringComparison.Ordinal) || route.EndsWith("/retry", StringComparison.Ordinal) => ["POST"],
            _ when route.EndsWith("/keys", StringComparison.Ordinal) => ["POST", "GET"],
            _ when route.Contains("/keys/", StringComparison.Ordinal) => ["DELETE"],
            _ when route.EndsWith("/credentials", StringComparison.Ordinal) || route.EndsWith("/webhooks", StringComparison.Ordinal) => ["PUT", "GET", "DELETE"],
            _ when route.StartsWith("/api/tenants/", StringComparison.Ordinal) => ["GET", "DELETE", "PUT"],
            _ => ["GET"],
        };
        return candidates[random.Next(candidates.Length)];
    }

    private static string Path(Random random)
    {
        string id = Id(random);
        string path = random.Next(24) switch
        {
            0 or 1 or 2 => "/api/tenants",
            3 or 4 => "/api/tenants/" + id,
            5 or 6 or 7 => "/api/tenants/" + id + "/messages",
            8 => "/api/tenants/" + id + "/keys",
            9 => "/api/tenants/" + id + "/keys/" + (random.Next(2) == 0 ? RandomGuid(random) : Segment(random)),
            10 => "/api/tenants/" + id + "/cloud-api/credentials",
            11 => "/api/tenants/" + id + (random.Next(2) == 0 ? "/restart" : "/logout"),
            12 => "/api/tenants/" + id + "/dead-letters" + (random.Next(2) == 0 ? "" : "/" + Segment(random) + "/retry"),
            13 => "/api/tenants/" + id + "/webhooks",
            14 => "/api/" + Segment(random),
            15 => "/api/tenants/" + id + "/" + Segment(random) + "/" + Segment(random),
            16 => random.Next(3) switch { 0 => "/health", 1 => "/ready", _ => "/livez" },
            17 => "/metrics",
            18 => random.Next(2) == 0 ? "/openapi/v1.json" : "/openapi/" + Segment(random) + ".json",
            19 => random.Next(2) == 0 ? "/scalar/" : "/scalar/" + Segment(random),
            20 => random.Next(3) switch { 0 => "/", 1 => "/login", _ => "/dashboard/" + Segment(random) },
            21 => "/webhooks/whatsapp",
            _ => "/" + Segment(random),
        };

        if (random.Next(5) == 0)
        {
            path += "?" + Query(random);
        }

        return path;
    }

    private static string Id(Random random) => random.Next(6) switch
    {
        0 or 1 => KnownTenants[random.Next(KnownTenants.Length)],
        2 => "unknown" + random.Next(100).ToString(CultureInfo.InvariantCulture),
        3 => new string('a', random.Next(60, 2000)),
        _ => Segment(random),
    };

    /// <summary>A path segment of junk, escaped so it is a valid URI (the server sees the junk after unescaping).</summary>
    private static string Segment(Random random)
    {
        string raw = random.Next(5) switch
        {
            0 => RandomPrintable(random, random.Next(1, 40)),
            1 => new string((char)random.Next(0x80, 0x3000), random.Next(1, 10)),
            2 => "%" + random.Next(256).ToString("x2", CultureInfo.InvariantCulture) + RandomPrintable(random, 3),
            3 => "..",
            _ => "x" + random.Next(100000).ToString(CultureInfo.InvariantCulture),
        };
        string escaped = Uri.EscapeDataString(raw.Replace('\0', '0'));
        return escaped is "." or ".." or "" ? "dot" : escaped;
    }

    private static string Query(Random random)
    {
        string[] names = ["limit", "after", "status", "purge", "store", "documentName", RandomPrintable(random, 5)];
        var parts = new List<string>();
        for (int i = random.Next(1, 4); i > 0; i--)
        {
            string value = random.Next(4) switch
            {
                0 => random.Next(-5, 5000).ToString(CultureInfo.InvariantCulture),
                1 => random.Next(2) == 0 ? "true" : "maybe",
                2 => "connected",
                _ => RandomPrintable(random, random.Next(0, 50)),
            };
            parts.Add(Uri.EscapeDataString(names[random.Next(names.Length)]) + "=" + Uri.EscapeDataString(value));
        }

        return string.Join('&', parts);
    }

    private static (byte[]? Body, string Kind) Body(Random random, string path)
    {
        switch (random.Next(14))
        {
            case 0:
            case 1:
                return (null, "none");
            case 2:
                return (RandomBytes(random, random.Next(0, 2048)), "random bytes");
            case 3:
                string valid = Valid(random, path);
                return (Encoding.UTF8.GetBytes(valid[..random.Next(0, valid.Length)]), "truncated");
            case 4:
                return (Mangle(random, Encoding.UTF8.GetBytes(Valid(random, path))), "mangled");
            case 5:
                int depth = random.Next(20, 20_000);
                return (Encoding.UTF8.GetBytes(random.Next(2) == 0 ? new string('[', depth) + new string(']', depth) : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth)), "deep");
            case 6:
                return random.Next(10) == 0
                    ? (Encoding.UTF8.GetBytes("{\"business_id\":\"" + new string('x', random.Next(1 << 20, 2 << 20)) + "\"}"), "huge")
                    : (Encoding.UTF8.GetBytes("{\"to\":\"15551234567\",\"text\":\"" + new string('y', random.Next(60_000, 70_000)) + "\"}"), "around the limit");
            case 7:
                return (Encoding.UTF8.GetBytes(RandomJson(random, 0)), "random JSON");
            case 8:
                return (Encoding.UTF8.GetBytes("{\"business_id\":\"a\",\"business_id\":\"b\",\"to\":1,\"text\":null,\"\\ud800\":\"\\u0000\"}"), "duplicates");
            default:
                return (Encoding.UTF8.GetBytes(Valid(random, path)), "valid-looking");
        }
    }

    /// <summary>A body of the right shape for the path (or for another path), with values that may be valid.</summary>
    private static string Valid(Random random, string path) => random.Next(7) switch
    {
        6 => MessageKinds[random.Next(MessageKinds.Length)],
        0 => $$"""{"business_id":"{{KnownTenants[random.Next(KnownTenants.Length)]}}"}""",
        1 => $$"""{"business_id":"pool{{random.Next(10)}}"}""",
        2 => $$"""{"to":"{{(random.Next(2) == 0 ? "15551234567" : "1555@s.whatsapp.net")}}","text":"fuzz {{random.Next(1000)}}"}""",
        3 => """{"phone_number_id":"106540352242922","access_token":"EAAGfuzz","waba_id":null}""",
        4 => $$"""{"url":"https://10.0.0.{{random.Next(255)}}/hook","events":["message.received"],"secret":"{{RandomPrintable(random, 40).Replace("\"", "", StringComparison.Ordinal).Replace("\\", "", StringComparison.Ordinal)}}"}""",
        _ => path.Contains("/messages", StringComparison.Ordinal) ? """{"to":"15551234567","text":"hi"}""" : """{"business_id":"fuzz1"}""",
    };

    /// <summary>Message objects of every kind (the sample's simulator sends text only, so the others are 422), to truncate and mangle.</summary>
    private static readonly string[] MessageKinds =
    [
        """{"to":"15551234567","type":"text","text":{"body":"fuzz","preview_url":true},"context":{"message_id":"wamid.1"}}""",
        """{"to":"15551234567","type":"template","template":{"name":"order_update","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"currency","currency":{"fallback_value":"$1","code":"USD","amount_1000":1000}}]},{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"p"}]}]}}""",
        """{"to":"15551234567","type":"image","image":{"link":"https://example.com/a.png","caption":"c"}}""",
        """{"to":"15551234567","type":"location","location":{"latitude":"37.5","longitude":-122.25}}""",
        """{"to":"15551234567","type":"contacts","contacts":[{"name":{"formatted_name":"A B"},"phones":[{"phone":"+1 555","wa_id":"1555"}]}]}""",
        """{"to":"15551234567","type":"interactive","interactive":{"type":"list","body":{"text":"b"},"action":{"button":"Open","sections":[{"title":"s","rows":[{"id":"r","title":"t"}]}]}}}""",
    ];

    private static string RandomJson(Random random, int depth) => (depth > 5 ? random.Next(4) : random.Next(8)) switch
    {
        0 => random.Next(-1000, 1000).ToString(CultureInfo.InvariantCulture),
        1 => random.Next(3) switch { 0 => "true", 1 => "false", _ => "null" },
        2 => "1e999",
        3 => "\"" + RandomPrintable(random, random.Next(0, 20)).Replace("\"", "", StringComparison.Ordinal).Replace("\\", "", StringComparison.Ordinal) + "\"",
        4 => "[" + string.Join(',', Enumerable.Range(0, random.Next(0, 4)).Select(_ => RandomJson(random, depth + 1))) + "]",
        _ => "{" + string.Join(',', Enumerable.Range(0, random.Next(0, 4)).Select(_ =>
            "\"" + (random.Next(2) == 0 ? "business_id" : random.Next(2) == 0 ? "to" : "text") + "\":" + RandomJson(random, depth + 1))) + "}",
    };

    private static string RandomGuid(Random random) => new Guid(RandomBytes(random, 16)).ToString("D");

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string RandomPrintable(Random random, int length)
    {
        var text = new char[length];
        for (int i = 0; i < length; i++)
        {
            text[i] = (char)random.Next(0x20, 0x7F);
        }

        return new string(text);
    }

    private static byte[] Mangle(Random random, byte[] valid)
    {
        var bytes = new List<byte>(valid);
        for (int n = random.Next(1, 5); n > 0 && bytes.Count > 0; n--)
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
}
