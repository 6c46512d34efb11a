namespace MultiTenant.Supervision;

/// <summary>The logging scope of a tenant's loop: carries <c>BusinessId</c>.</summary>
internal sealed class TenantLogScope(TenantId tenant) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public int Count => 1;

    public KeyValuePair<string, object?> this[int index] =>
        index == 0 ? new KeyValuePair<string, object?>("BusinessId", tenant.Value) : throw new ArgumentOutOfRangeException(nameof(index));

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        yield return this[0];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => "BusinessId:" + tenant.Value;
}
