using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace MultiTenant.AspNetCore.Http;

/// <summary>Why a request was refused: the HTTP status and a human-readable detail (never exception text, never the raw input).</summary>
internal readonly record struct RequestError(int StatusCode, string Detail);

/// <summary>
/// The checks behind <see cref="StrictJsonBody"/>, the one JSON body reader of the packages: the media type (415) and the flat object
/// of string (and string array) members (400).
/// </summary>
internal static class JsonObjectParser
{
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];

    /// <summary>Checks the <c>Content-Type</c>: <c>application/json</c> or <c>application/*+json</c>, with no charset or UTF-8.</summary>
    public static RequestError? CheckContentType(HttpRequest request)
    {
        const string expected = "The request body must be JSON: send 'Content-Type: application/json'.";
        if (string.IsNullOrEmpty(request.ContentType))
        {
            return new RequestError(StatusCodes.Status415UnsupportedMediaType, "The request has no Content-Type. " + expected);
        }

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType))
        {
            return new RequestError(StatusCodes.Status415UnsupportedMediaType, "The Content-Type is not a valid media type. " + expected);
        }

        var type = mediaType.MediaType;
        bool isJson = type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (type.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
        if (!isJson)
        {
            return new RequestError(StatusCodes.Status415UnsupportedMediaType, "The Content-Type is not JSON. " + expected);
        }

        var charset = mediaType.Charset;
        if (charset.HasValue
            && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)
            && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase)
            && !charset.Equals("\"utf-8\"", StringComparison.OrdinalIgnoreCase))
        {
            return new RequestError(StatusCodes.Status415UnsupportedMediaType, "Only UTF-8 JSON is accepted; send 'Content-Type: application/json; charset=utf-8' or no charset.");
        }

        return null;
    }

    /// <summary>
    /// Parses <paramref name="json"/> as an object whose members are those of <paramref name="shape"/>: strings, or arrays of strings
    /// where the shape says so (an optional one may be null). Unknown members are refused, so a misspelt member is reported instead of
    /// silently ignored; so are duplicates. A <see cref="StrictJsonBodyShape.StringMap"/> shape takes members of any name into
    /// <paramref name="map"/> instead, each once, each a string, at most <see cref="StrictJsonBodyShape.MaxMembers"/>.
    /// </summary>
    /// <param name="json">The body.</param>
    /// <param name="shape">The member names.</param>
    /// <param name="values">Receives the values (a string or a string array), in the order of the shape's members.</param>
    /// <param name="map">Receives the members of a string map shape; <see langword="null"/> for a shape of named members.</param>
    public static RequestError? Parse(ReadOnlySpan<byte> json, StrictJsonBodyShape shape, object?[] values, Dictionary<string, string>? map)
    {
        string example = shape.Example;
        json = json[BomLength(json)..];

        if (json.Trim(" \t\r\n"u8).IsEmpty)
        {
            return BadRequest($"The request body is empty; send a JSON object such as {example}.");
        }

        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 16 });
        Span<bool> seen = stackalloc bool[shape.Members.Count];
        try
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return BadRequest($"The request body must be a JSON object such as {example}; it is {Describe(reader.TokenType)}.");
            }

            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var error = map is not null ? ReadMapMember(ref reader, shape, map) : ReadMember(ref reader, shape, values, seen);
                if (error is not null)
                {
                    return error;
                }
            }

            // Anything after the object (a second value, stray characters) makes the reader throw below.
            while (reader.Read())
            {
            }
        }
        catch (JsonException ex)
        {
            return BadRequest(ex.LineNumber is { } line && ex.BytePositionInLine is { } position
                ? $"The request body is not valid JSON (line {line + 1}, byte {position + 1}). Send a JSON object such as {example}."
                : $"The request body is not valid JSON. Send a JSON object such as {example}.");
        }
        catch (InvalidOperationException)
        {
            // GetString on text that is not valid UTF-8 or holds an unpaired surrogate escape.
            return BadRequest("The request body contains text that is not valid UTF-8 or not valid Unicode.");
        }

        for (int i = 0; i < shape.RequiredCount; i++)
        {
            if (!seen[i])
            {
                return BadRequest($"'{shape.Members[i]}' is missing; send a JSON object such as {example}.");
            }
        }

        return null;
    }

    /// <summary>Reads one member of a shape of named members (the reader on its name).</summary>
    private static RequestError? ReadMember(ref Utf8JsonReader reader, StrictJsonBodyShape shape, object?[] values, scoped Span<bool> seen)
    {
        var names = shape.Members;
        int index = -1;
        for (int i = 0; i < names.Count; i++)
        {
            if (reader.ValueTextEquals(names[i]))
            {
                index = i;
                break;
            }
        }

        if (index < 0)
        {
            return BadRequest($"{DescribeMember(reader.GetString(), "An unknown member")} is not accepted; the body has only {ListNames(names)}, as in {shape.Example}.");
        }

        string name = names[index];
        if (seen[index])
        {
            return BadRequest($"'{name}' appears more than once.");
        }

        seen[index] = true;
        bool array = shape.IsArray(index);
        reader.Read();
        switch (reader.TokenType)
        {
            case JsonTokenType.String when !array:
                values[index] = reader.GetString();
                return null;
            case JsonTokenType.StartArray when array:
                var items = new List<string>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        return BadRequest($"'{name}' must be an array of strings; item {items.Count + 1} is {Describe(reader.TokenType)}.");
                    }

                    items.Add(reader.GetString()!);
                }

                values[index] = items.ToArray();
                return null;
            case JsonTokenType.Null when index >= shape.RequiredCount:
                values[index] = null;
                return null;
            case JsonTokenType.Null:
                return BadRequest($"'{name}' must be {Expected(array)}, not null.");
            default:
                return BadRequest($"'{name}' must be {Expected(array)}; it is {Describe(reader.TokenType)}.");
        }

        static string Expected(bool array) => array ? "an array of strings" : "a string";
    }

    /// <summary>Reads one member of a string map shape (the reader on its name).</summary>
    private static RequestError? ReadMapMember(ref Utf8JsonReader reader, StrictJsonBodyShape shape, Dictionary<string, string> map)
    {
        string name = reader.GetString()!;
        reader.Read();
        if (reader.TokenType != JsonTokenType.String)
        {
            return BadRequest($"{DescribeMember(name, "A member")} must be a string; it is {Describe(reader.TokenType)}. Send a JSON object such as {shape.Example}.");
        }

        if (!map.TryAdd(name, reader.GetString()!))
        {
            return BadRequest($"{DescribeMember(name, "A member")} appears more than once.");
        }

        return map.Count > shape.MaxMembers
            ? BadRequest($"The body has at most {shape.MaxMembers} members; send fewer, as in {shape.Example}.")
            : null;
    }

    /// <summary>The length of the UTF-8 byte order mark <paramref name="json"/> starts with: 3, or 0 without one.</summary>
    public static int BomLength(ReadOnlySpan<byte> json) => json.StartsWith(Utf8Bom) ? Utf8Bom.Length : 0;

    private static RequestError BadRequest(string detail) => new(StatusCodes.Status400BadRequest, detail);

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => "not a value",
    };

    /// <summary>Names a member in an error, quoting it only when it is short and printable (it is the caller's input).</summary>
    private static string DescribeMember(string? name, string otherwise)
    {
        if (name is { Length: > 0 and <= 64 })
        {
            bool printable = true;
            foreach (char c in name)
            {
                if (char.IsControl(c) || char.IsSurrogate(c) || c is '\'' or '"' or '\\')
                {
                    printable = false;
                    break;
                }
            }

            if (printable)
            {
                return $"The member '{name}'";
            }
        }

        return otherwise;
    }

    private static string ListNames(IReadOnlyList<string> names)
    {
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < names.Count; i++)
        {
            if (i > 0)
            {
                text.Append(i == names.Count - 1 ? " and " : ", ");
            }

            text.Append('\'').Append(names[i]).Append('\'');
        }

        return text.ToString();
    }
}
