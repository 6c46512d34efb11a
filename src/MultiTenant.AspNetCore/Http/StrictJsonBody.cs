using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace MultiTenant.AspNetCore.Http;

/// <summary>
/// A request body that must be a flat JSON object of string members, read under the MultiTenant API's rules, so that every failure is
/// a problem details result with a readable <c>detail</c> instead of the empty 400 of the framework's body binding:
/// <list type="bullet">
/// <item>the <c>Content-Type</c> must be <c>application/json</c> or <c>application/*+json</c>, with no charset or UTF-8 (else 415);</item>
/// <item>the body at most the given number of bytes, enforced while reading whatever the server's own limit (else 413, see
/// <see cref="BoundedRequestBody"/>);</item>
/// <item>the document one JSON object (no comments, at most 16 levels deep) whose members are exactly those of the
/// <see cref="StrictJsonBodyShape"/>, each a string (an optional one may be <c>null</c> or absent); an unknown or a repeated member is
/// refused, so a misspelt member is reported rather than ignored (else 400).</item>
/// </list>
/// Endpoints use it from <c>IBindableFromHttpContext&lt;T&gt;.BindAsync</c> of their request records: the tenant API and the Cloud API
/// credentials read their bodies with it. A reason for not using <c>System.Text.Json</c>'s own binding: its errors name .NET types and
/// positions, not the member a caller got wrong, and it cannot tell a missing member from a <c>null</c> one in a readable way.
/// </summary>
public sealed class StrictJsonBody
{
    private readonly StrictJsonBodyShape? _shape;
    private readonly string?[] _values;

    private StrictJsonBody(StrictJsonBodyShape? shape, string?[] values, ProblemHttpResult? problem)
    {
        _shape = shape;
        _values = values;
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

        var values = new string?[shape.Members.Count];
        using (body)
        {
            if (JsonObjectParser.Parse(body.Span, shape, values) is { } error)
            {
                return Refused(context, error);
            }
        }

        return new StrictJsonBody(shape, values, problem: null);
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
    /// <exception cref="ArgumentException"><paramref name="member"/> is not a member of the shape.</exception>
    public string? GetString(string member)
    {
        if (_shape is null)
        {
            return null;
        }

        int index = _shape.IndexOf(member);
        return index >= 0 ? _values[index] : throw new ArgumentException($"'{member}' is not a member of the body's shape.", nameof(member));
    }

    private static StrictJsonBody Refused(HttpContext context, RequestError error) =>
        new(shape: null, [], TypedProblems.Problem(context, error.StatusCode, error.Detail));
}

/// <summary>
/// The members a <see cref="StrictJsonBody"/> must have: required ones, optional ones and an example body that error details quote.
/// Create one per endpoint and keep it (it is immutable).
/// </summary>
public sealed class StrictJsonBodyShape
{
    private readonly string[] _members;

    /// <summary>Creates a shape.</summary>
    /// <param name="example">An example of a valid body, quoted in error details, e.g. <c>{"business_id":"tenant1"}</c>.</param>
    /// <param name="required">The names of the required members (at least one, all different).</param>
    /// <param name="optional">The names of the optional members, or <see langword="null"/>.</param>
    /// <exception cref="ArgumentException">No required member, an empty name, or a name given twice.</exception>
    public StrictJsonBodyShape(string example, IEnumerable<string> required, IEnumerable<string>? optional = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(example);
        ArgumentNullException.ThrowIfNull(required);
        string[] requiredNames = [.. required];
        if (requiredNames.Length == 0)
        {
            throw new ArgumentException("A body shape needs at least one required member.", nameof(required));
        }

        _members = [.. requiredNames, .. optional ?? []];
        foreach (string name in _members)
        {
            ArgumentException.ThrowIfNullOrEmpty(name, nameof(required));
        }

        if (_members.Distinct(StringComparer.Ordinal).Count() != _members.Length)
        {
            throw new ArgumentException("A member name is given twice.", nameof(required));
        }

        Example = example;
        RequiredCount = requiredNames.Length;
    }

    /// <summary>The example body quoted in error details.</summary>
    public string Example { get; }

    /// <summary>Every member name: the required ones first, then the optional ones.</summary>
    public IReadOnlyList<string> Members => _members;

    /// <summary>How many of <see cref="Members"/>, from the first, are required.</summary>
    public int RequiredCount { get; }

    internal int IndexOf(string member) => Array.IndexOf(_members, member);
}
