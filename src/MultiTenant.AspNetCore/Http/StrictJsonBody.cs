using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace MultiTenant.AspNetCore.Http;

/// <summary>
/// A request body that must be a flat JSON object of string members (and arrays of strings where the shape says so), read under the
/// MultiTenant API's rules, so that every failure is a problem details result with a readable <c>detail</c> instead of the empty 400 of
/// the framework's body binding:
/// <list type="bullet">
/// <item>the <c>Content-Type</c> must be <c>application/json</c> or <c>application/*+json</c>, with no charset or UTF-8 (else 415);</item>
/// <item>the body at most the given number of bytes, enforced while reading whatever the server's own limit (else 413, see
/// <see cref="BoundedRequestBody"/>);</item>
/// <item>the document one JSON object (no comments, at most 16 levels deep) whose members are exactly those of the
/// <see cref="StrictJsonBodyShape"/>, each a string or, where the shape says so, an array of strings (an optional one may be
/// <c>null</c> or absent); an unknown or a repeated member is refused, so a misspelt member is reported rather than ignored (else 400).
/// A <see cref="StrictJsonBodyShape.StringMap"/> shape takes members of any name instead, each once and each a string, up to its
/// <see cref="StrictJsonBodyShape.MaxMembers"/>.</item>
/// </list>
/// Every JSON body of the MultiTenant packages is read with it: the tenant API's request records (from
/// <c>IBindableFromHttpContext&lt;T&gt;.BindAsync</c>), labels, webhook subscriptions and the Cloud API credentials. A reason for not using <c>System.Text.Json</c>'s own binding: its errors name .NET types and
/// positions, not the member a caller got wrong, and it cannot tell a missing member from a <c>null</c> one in a readable way.
/// </summary>
public sealed class StrictJsonBody
{
    private readonly StrictJsonBodyShape? _shape;
    private readonly object?[] _values; // a string or a string[] per member of the shape
    private readonly Dictionary<string, string>? _map;

    private StrictJsonBody(StrictJsonBodyShape? shape, object?[] values, Dictionary<string, string>? map, ProblemHttpResult? problem)
    {
        _shape = shape;
        _values = values;
        _map = map;
        Problem = problem;
    }

    /// <summary>
    /// Why the body was refused: a 400, 413 or 415 problem details result with a readable <c>detail</c> that never quotes the raw input
    /// (an unknown member's name only when it is short and printable); <see langword="null"/> when the body was accepted.
    /// </summary>
    public ProblemHttpResult? Problem { get; }

    /// <summary>
    /// Reads and checks the request body of <paramref name="context"/>.
    /// </summary>
    /// <param name="context">The request's context.</param>
    /// <param name="shape">The members the object must have.</param>
    /// <param name="maxBodySize">The largest accepted body, in bytes (at least 0).</param>
    /// <returns>The members' values, or a <see cref="Problem"/>.</returns>
    /// <exception cref="OperationCanceledException">The client aborted the request.</exception>
    public static async ValueTask<StrictJsonBody> ReadAsync(HttpContext context, StrictJsonBodyShape shape, int maxBodySize)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(shape);
        if (JsonObjectParser.CheckContentType(context.Request) is { } contentTypeError)
        {
            return Refused(context, contentTypeError);
        }

        BoundedRequestBody body;
        try
        {
            body = await BoundedRequestBody.ReadAsync(context, maxBodySize).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex)
        {
            // BoundedRequestBody's own readable messages (413 with the limit, 400 unreadable), never the server's.
            return Refused(context, new RequestError(ex.StatusCode, ex.Message));
        }

        var values = new object?[shape.Members.Count];
        var map = shape.MaxMembers is not null ? new Dictionary<string, string>(StringComparer.Ordinal) : null;
        using (body)
        {
            if (JsonObjectParser.Parse(body.Span, shape, values, map) is { } error)
            {
                return Refused(context, error);
            }
        }

        return new StrictJsonBody(shape, values, map, problem: null);
    }

    /// <summary>
    /// Reads the request body of <paramref name="context"/> under the same media type (415) and size (413) rules as
    /// <see cref="ReadAsync"/>, for a body that is a nested document its endpoint parses itself (the message object of
    /// <c>POST {prefix}/{business_id}/messages</c>): the bytes after a UTF-8 byte order mark, or a problem (an empty body is a 400).
    /// </summary>
    /// <param name="context">The request's context.</param>
    /// <param name="example">An example of a valid body, quoted when the body is empty.</param>
    /// <param name="maxBodySize">The largest accepted body, in bytes.</param>
    /// <returns>The body (the caller disposes it) with the offset of its JSON, or a problem.</returns>
    /// <exception cref="OperationCanceledException">The client aborted the request.</exception>
    internal static async ValueTask<(BoundedRequestBody? Body, int Start, ProblemHttpResult? Problem)> ReadDocumentAsync(HttpContext context, string example, int maxBodySize)
    {
        if (JsonObjectParser.CheckContentType(context.Request) is { } contentTypeError)
        {
            return (null, 0, Refused(context, contentTypeError).Problem);
        }

        BoundedRequestBody body;
        try
        {
            body = await BoundedRequestBody.ReadAsync(context, maxBodySize).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex)
        {
            return (null, 0, Refused(context, new RequestError(ex.StatusCode, ex.Message)).Problem);
        }

        int start = JsonObjectParser.BomLength(body.Span);
        if (body.Span[start..].Trim(" \t\r\n"u8).IsEmpty)
        {
            body.Dispose();
            return (null, 0, TypedProblems.Problem(context, StatusCodes.Status400BadRequest, $"The request body is empty; send a JSON object such as {example}."));
        }

        return (body, start, null);
    }

    /// <summary>
    /// The value of <paramref name="member"/>: never <see langword="null"/> for a required member of an accepted body;
    /// <see langword="null"/> for an optional member that was absent or <c>null</c>, and for every member when <see cref="Problem"/> is set.
    /// </summary>
    /// <param name="member">A member name of the shape.</param>
    /// <exception cref="ArgumentException"><paramref name="member"/> is not a string member of the shape.</exception>
    public string? GetString(string member) => _shape is null ? null : (string?)_values[IndexOf(member, array: false)];

    /// <summary>
    /// The items of the array member <paramref name="member"/>, in order: never <see langword="null"/> for a required member of an
    /// accepted body; <see langword="null"/> for an optional member that was absent or <c>null</c>, and when <see cref="Problem"/> is set.
    /// </summary>
    /// <param name="member">A member name of the shape given as one of its <c>stringArrays</c>.</param>
    /// <exception cref="ArgumentException"><paramref name="member"/> is not an array member of the shape.</exception>
    public IReadOnlyList<string>? GetStrings(string member) => _shape is null ? null : (string[]?)_values[IndexOf(member, array: true)];

    /// <summary>
    /// The members of a body read with a <see cref="StrictJsonBodyShape.StringMap"/> shape, by name (ordinal); <see langword="null"/> when
    /// <see cref="Problem"/> is set or the shape names its members.
    /// </summary>
    /// <returns>The members, or <see langword="null"/>.</returns>
    public IReadOnlyDictionary<string, string>? GetStringMap() => _map;

    private int IndexOf(string member, bool array)
    {
        int index = _shape!.IndexOf(member);
        return index >= 0 && _shape.IsArray(index) == array
            ? index
            : throw new ArgumentException($"'{member}' is not {(array ? "an array" : "a string")} member of the body's shape.", nameof(member));
    }

    private static StrictJsonBody Refused(HttpContext context, RequestError error) =>
        new(shape: null, [], map: null, TypedProblems.Problem(context, error.StatusCode, error.Detail));
}
