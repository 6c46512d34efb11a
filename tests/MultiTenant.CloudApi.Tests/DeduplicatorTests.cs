using MultiTenant.CloudApi.Webhooks;
using MultiTenant.Storage;
using Microsoft.Extensions.Time.Testing;

namespace MultiTenant.CloudApi.Tests;

/// <summary>De-duplication ids in the tenant's state store and their expiry.</summary>
public sealed class DeduplicatorTests
{
    private static readonly TimeSpan Window = TimeSpan.FromDays(7);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 15, 0, 0, TimeSpan.Zero));
    private readonly ITenantStateStore _store;

    public DeduplicatorTests() => _store = new InMemoryTenantStore(_time).GetStore(TenantId.Parse("tenant-a"));

    [Fact]
    public async Task Recorded_ids_are_found_by_a_new_instance_over_the_same_store()
    {
        var first = new WebhookDeduplicator(_store, _time, Window);
        await first.RecordAsync([WebhookDeduplicator.MessageKey("wamid.1")], CancellationToken.None);

        var second = new WebhookDeduplicator(_store, _time, Window);

        Assert.True(await second.IsRecordedAsync(WebhookDeduplicator.MessageKey("wamid.1"), CancellationToken.None));
        Assert.False(await second.IsRecordedAsync(WebhookDeduplicator.MessageKey("wamid.2"), CancellationToken.None));
        Assert.False(await second.IsRecordedAsync(WebhookDeduplicator.StatusKey("wamid.1", "read"), CancellationToken.None));
    }

    [Fact]
    public void Claims_in_memory_refuse_a_second_claim_until_released()
    {
        var dedup = new WebhookDeduplicator(_store, _time, Window);

        Assert.True(dedup.TryClaim("m/wamid.1"));
        Assert.False(dedup.TryClaim("m/wamid.1"));
        dedup.Release("m/wamid.1");
        Assert.True(dedup.TryClaim("m/wamid.1"));
    }

    [Fact]
    public async Task Ids_are_kept_for_the_window_and_removed_after_it()
    {
        var dedup = new WebhookDeduplicator(_store, _time, Window);
        string key = WebhookDeduplicator.MessageKey("wamid.old");
        await dedup.RecordAsync([key], CancellationToken.None);
        _time.Advance(TimeSpan.FromDays(3));
        string recent = WebhookDeduplicator.MessageKey("wamid.recent");
        await dedup.RecordAsync([recent], CancellationToken.None);

        _time.Advance(TimeSpan.FromDays(4)); // exactly the window since the first record: still kept
        Assert.Equal(0, await dedup.SweepAsync(CancellationToken.None));
        Assert.True(await dedup.IsRecordedAsync(key, CancellationToken.None));

        _time.Advance(TimeSpan.FromDays(1)); // past the end of its day + the window
        Assert.Equal(1, await dedup.SweepAsync(CancellationToken.None));

        Assert.False(await dedup.IsRecordedAsync(key, CancellationToken.None));
        Assert.True(await dedup.IsRecordedAsync(recent, CancellationToken.None));
        Assert.Single(await _store.ListKeysAsync(WebhookDeduplicator.DaysNamespace));
        Assert.Single(await _store.ListKeysAsync(WebhookDeduplicator.Namespace));
    }

    [Fact]
    public void Overlong_ids_are_hashed_into_valid_keys()
    {
        string key = WebhookDeduplicator.MessageKey(new string('x', 400));

        Assert.StartsWith("h/", key, StringComparison.Ordinal);
        Assert.True(key.Length <= 255);
    }
}
