using System.Collections.Concurrent;

namespace MultiTenant.Storage;

/// <summary>
/// A store that can erase everything it holds of one tenant (<c>DELETE /api/tenants/{business_id}?purge=true</c> calls every registered
/// store that implements it: registry, statuses, client state and credentials, API keys, inbox, labels).
/// </summary>
public interface ITenantPurgeable
{
    /// <summary>Erases every row or value of <paramref name="tenant"/>. Idempotent; the tenant should be stopped first.</summary>
    ValueTask PurgeAsync(TenantId tenant, CancellationToken cancellationToken = default);
}

/// <summary>Per-tenant metadata: a small set of string labels (<c>PUT /api/tenants/{business_id}</c>), returned with the status.</summary>
public interface ITenantLabelStore
{
    /// <summary>The tenant's labels, empty when it has none.</summary>
    ValueTask<IReadOnlyDictionary<string, string>> GetAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>
    /// The labels of those of <paramref name="tenants"/> that have any, in one read however many are asked (the list of statuses
    /// returns a page of up to 10,000 tenants with their labels); a tenant without labels is absent from the result.
    /// </summary>
    ValueTask<IReadOnlyDictionary<TenantId, IReadOnlyDictionary<string, string>>> GetManyAsync(
        IReadOnlyCollection<TenantId> tenants, CancellationToken cancellationToken = default);

    /// <summary>Replaces the tenant's labels (an empty set removes them). Validate them with <see cref="TenantLabels.Validate"/> first.</summary>
    /// <exception cref="ArgumentException">The labels break <see cref="TenantLabels"/>' limits.</exception>
    ValueTask SetAsync(TenantId tenant, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken = default);
}

/// <summary>The limits of tenant labels, the same for every store.</summary>
public static class TenantLabels
{
    /// <summary>At most 16 labels per tenant.</summary>
    public const int MaxCount = 16;

    /// <summary>A key has 1 to 63 characters: ASCII letters, digits, <c>.</c>, <c>_</c>, <c>-</c> and <c>/</c>, starting with a letter or digit.</summary>
    public const int MaxKeyLength = 63;

    /// <summary>A value has at most 256 characters, none of them a control character.</summary>
    public const int MaxValueLength = 256;

    /// <summary>What is wrong with <paramref name="labels"/>, in a sentence for the caller, or <see langword="null"/> when they are valid.</summary>
    public static string? Validate(IReadOnlyDictionary<string, string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Count > MaxCount)
        {
            return $"A tenant has at most {MaxCount} labels; {labels.Count} were given.";
        }

        foreach (var (key, value) in labels)
        {
            if (key.Length is 0 or > MaxKeyLength || !char.IsAsciiLetterOrDigit(key[0]) || !key.All(static c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '/'))
            {
                return $"A label key has 1 to {MaxKeyLength} characters (ASCII letters, digits, '.', '_', '-', '/'), starting with a letter or digit.";
            }

            if (value is null || value.Length > MaxValueLength || value.Any(char.IsControl))
            {
                return $"The value of label '{key}' must be a string of at most {MaxValueLength} characters without control characters.";
            }
        }

        return null;
    }

    /// <summary>Throws <see cref="ArgumentException"/> when <paramref name="labels"/> are not valid (for store implementations).</summary>
    public static void ThrowIfInvalid(IReadOnlyDictionary<string, string> labels)
    {
        if (Validate(labels) is { } problem)
        {
            throw new ArgumentException(problem, nameof(labels));
        }
    }
}

/// <summary>The embedded <see cref="ITenantLabelStore"/>: in process memory, not durable. Thread-safe.</summary>
public sealed class InMemoryTenantLabelStore : ITenantLabelStore, ITenantPurgeable
{
    private readonly ConcurrentDictionary<TenantId, IReadOnlyDictionary<string, string>> _labels = new();

    /// <inheritdoc />
    public ValueTask<IReadOnlyDictionary<string, string>> GetAsync(TenantId tenant, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_labels.TryGetValue(tenant, out var labels) ? labels : (IReadOnlyDictionary<string, string>)new Dictionary<string, string>());

    /// <inheritdoc />
    public ValueTask<IReadOnlyDictionary<TenantId, IReadOnlyDictionary<string, string>>> GetManyAsync(
        IReadOnlyCollection<TenantId> tenants, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenants);
        var found = new Dictionary<TenantId, IReadOnlyDictionary<string, string>>();
        foreach (var tenant in tenants)
        {
            if (_labels.TryGetValue(tenant, out var labels))
            {
                found[tenant] = labels;
            }
        }

        return ValueTask.FromResult<IReadOnlyDictionary<TenantId, IReadOnlyDictionary<string, string>>>(found);
    }

    /// <inheritdoc />
    public ValueTask SetAsync(TenantId tenant, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken = default)
    {
        TenantLabels.ThrowIfInvalid(labels);
        if (labels.Count == 0)
        {
            _labels.TryRemove(tenant, out _);
        }
        else
        {
            _labels[tenant] = new SortedDictionary<string, string>(labels.ToDictionary(), StringComparer.Ordinal);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask PurgeAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        _labels.TryRemove(tenant, out _);
        return ValueTask.CompletedTask;
    }
}
