namespace MultiTenant.Inbox;

/// <content>The per-tenant item sets and the mutable entries of the in-memory inbox (guarded by its one lock).</content>
public sealed partial class InMemoryTenantInbox
{
    private sealed class TenantItems
    {
        public Dictionary<string, Entry> ByKey { get; } = new(StringComparer.Ordinal);

        public SortedDictionary<long, Entry> PendingById { get; } = [];

        public SortedDictionary<long, Entry> Dead { get; } = [];

        public int DoneCount { get; private set; }

        public SortedDictionary<long, Entry>.ValueCollection Pending() => PendingById.Values;

        public void Move(Entry entry, InboxItemState state)
        {
            _ = entry.State switch
            {
                InboxItemState.Pending => PendingById.Remove(entry.Id),
                InboxItemState.DeadLetter => Dead.Remove(entry.Id),
                _ => true,
            };
            if (entry.State == InboxItemState.Done)
            {
                DoneCount--;
            }

            entry.State = state;
            switch (state)
            {
                case InboxItemState.Pending:
                    PendingById[entry.Id] = entry;
                    break;
                case InboxItemState.DeadLetter:
                    Dead[entry.Id] = entry;
                    break;
                default:
                    DoneCount++;
                    break;
            }
        }

        public int PurgeDone(DateTimeOffset completedBefore)
        {
            var gone = new List<string>();
            foreach (var (key, entry) in ByKey)
            {
                if (entry.State == InboxItemState.Done && entry.CompletedAt < completedBefore)
                {
                    gone.Add(key);
                }
            }

            foreach (var key in gone)
            {
                ByKey.Remove(key);
            }

            DoneCount -= gone.Count;
            return gone.Count;
        }
    }

    private sealed class Entry(long id, TenantId tenant, string key, string source, string kind, byte[] payload, DateTimeOffset receivedAt)
    {
        private readonly DateTimeOffset _receivedAt = receivedAt;

        public long Id { get; } = id;

        public InboxItemState State { get; set; }

        public int Attempts { get; set; }

        public DateTimeOffset NextAttemptAt { get; set; } = receivedAt;

        public Guid? ClaimedBy { get; set; }

        public long ClaimEpoch { get; set; }

        public string? LastError { get; set; }

        public DateTimeOffset CompletedAt { get; set; }

        public InboxItem ToItem() =>
            new(Id, tenant, key, source, kind, payload, _receivedAt, State, Attempts, NextAttemptAt, LastError);
    }
}
