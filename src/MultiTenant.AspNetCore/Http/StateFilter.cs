namespace MultiTenant.AspNetCore.Http;

/// <summary>The wire names of tenant states (<see cref="TenantStateNames.ToWireName"/>), read back from a query string.</summary>
internal static class StateFilter
{
    /// <summary>The state named <paramref name="name"/> (<c>starting</c>, <c>connected</c>, ...), or <see langword="null"/>.</summary>
    public static TenantState? Parse(string name)
    {
        foreach (var s in (ReadOnlySpan<TenantState>)[TenantState.Stopped, TenantState.Starting, TenantState.Connected, TenantState.Disconnected, TenantState.Error])
        {
            if (s.ToWireName() == name)
            {
                return s;
            }
        }

        return null;
    }
}
