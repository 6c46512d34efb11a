namespace MultiTenant.AspNetCore.Http;

/// <summary>
/// The members a <see cref="StrictJsonBody"/> must have: required ones, optional ones, which of them are arrays of strings, and an
/// example body that error details quote; or, from <see cref="StringMap"/>, any members whose values are strings. Create one per
/// endpoint and keep it (it is immutable).
/// </summary>
public sealed class StrictJsonBodyShape
{
    private readonly string[] _members;
    private readonly bool[] _isArray;

    /// <summary>Creates a shape of named members.</summary>
    /// <param name="example">An example of a valid body, quoted in error details, e.g. <c>{"business_id":"tenant1"}</c>.</param>
    /// <param name="required">The names of the required members (at least one, all different).</param>
    /// <param name="optional">The names of the optional members, or <see langword="null"/>.</param>
    /// <param name="stringArrays">
    /// The names, among <paramref name="required"/> and <paramref name="optional"/>, of the members whose value is an array of strings
    /// (read with <see cref="StrictJsonBody.GetStrings"/>); every other member is a string. <see langword="null"/>: none.
    /// </param>
    /// <exception cref="ArgumentException">
    /// No required member, an empty name, a name given twice, or an array member that is neither required nor optional.
    /// </exception>
    public StrictJsonBodyShape(string example, IEnumerable<string> required, IEnumerable<string>? optional = null, IEnumerable<string>? stringArrays = null)
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

        _isArray = new bool[_members.Length];
        foreach (string name in stringArrays ?? [])
        {
            int index = Array.IndexOf(_members, name);
            if (index < 0)
            {
                throw new ArgumentException($"The array member '{name}' is neither a required nor an optional member.", nameof(stringArrays));
            }

            _isArray[index] = true;
        }

        Example = example;
        RequiredCount = requiredNames.Length;
    }

    private StrictJsonBodyShape(string example, int maxMembers)
    {
        Example = example;
        MaxMembers = maxMembers;
        _members = [];
        _isArray = [];
    }

    /// <summary>The example body quoted in error details.</summary>
    public string Example { get; }

    /// <summary>Every member name: the required ones first, then the optional ones. Empty for a <see cref="StringMap"/> shape.</summary>
    public IReadOnlyList<string> Members => _members;

    /// <summary>How many of <see cref="Members"/>, from the first, are required.</summary>
    public int RequiredCount { get; }

    /// <summary>
    /// For a <see cref="StringMap"/> shape, the most members a body may have; <see langword="null"/> for a shape of named members.
    /// </summary>
    public int? MaxMembers { get; }

    /// <summary>
    /// A shape whose members may have any names (each once), every value a string, such as labels <c>{"env":"prod"}</c>; read them
    /// with <see cref="StrictJsonBody.GetStringMap"/>. The names are the caller's input: check them yourself.
    /// </summary>
    /// <param name="example">An example of a valid body, quoted in error details.</param>
    /// <param name="maxMembers">The most members a body may have (at least 0); a body with more is refused without reading on.</param>
    /// <returns>The shape.</returns>
    /// <exception cref="ArgumentException"><paramref name="example"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxMembers"/> is negative.</exception>
    public static StrictJsonBodyShape StringMap(string example, int maxMembers)
    {
        ArgumentException.ThrowIfNullOrEmpty(example);
        ArgumentOutOfRangeException.ThrowIfNegative(maxMembers);
        return new StrictJsonBodyShape(example, maxMembers);
    }

    /// <summary>Whether the member at <paramref name="index"/> of <see cref="Members"/> is an array of strings.</summary>
    internal bool IsArray(int index) => _isArray[index];

    internal int IndexOf(string member) => Array.IndexOf(_members, member);
}
