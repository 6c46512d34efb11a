using MultiTenant.Inbox;
using MultiTenant.PostgreSql.Tests.Infrastructure;

namespace MultiTenant.PostgreSql.Tests.Contract;

/// <summary>The embedded inbox and address index pass the contract.</summary>
public sealed class InMemoryInboxContractTests : InboxContractTests
{
    private InMemoryTenantInbox? _inbox;

    protected override Task<(ITenantInbox Inbox, ITenantAddressIndex Addresses)> CreateAsync()
    {
        _inbox = new InMemoryTenantInbox(Time);
        return Task.FromResult<(ITenantInbox, ITenantAddressIndex)>((_inbox, new InMemoryTenantAddressIndex()));
    }

    // The embedded inbox lives in one process: every writer of it shares the instance.
    protected override Task<ITenantInbox> OpenAnotherAsync() => Task.FromResult<ITenantInbox>(_inbox!);
}

/// <summary>The PostgreSQL inbox and address index pass the contract: each test in a fresh schema of this class's database.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class PostgreSqlInboxContractTests(PostgreSqlFixture fixture) : InboxContractTests
{
    private readonly List<PostgreSqlTestStore> _opened = [];
    private readonly List<PostgreSqlTenantInbox> _inboxes = [];
    private readonly string _schema = PostgreSqlTestStore.NewSchema();
    private string _connectionString = string.Empty;

    protected override async Task<(ITenantInbox Inbox, ITenantAddressIndex Addresses)> CreateAsync()
    {
        _connectionString = await fixture.GetDatabaseAsync(nameof(PostgreSqlInboxContractTests));
        var opened = Open();
        await opened.Store.MigrateAsync();
        return (NewInbox(opened), new PostgreSqlTenantAddressIndex(opened.Store));
    }

    protected override Task<ITenantInbox> OpenAnotherAsync() => Task.FromResult<ITenantInbox>(NewInbox(Open()));

    public override async Task DisposeAsync()
    {
        foreach (var inbox in _inboxes)
        {
            await inbox.DisposeAsync();
        }

        foreach (var opened in _opened)
        {
            await opened.DisposeAsync();
        }
    }

    private PostgreSqlTenantInbox NewInbox(PostgreSqlTestStore opened)
    {
        var inbox = new PostgreSqlTenantInbox(opened.Store, Time);
        _inboxes.Add(inbox);
        return inbox;
    }

    private PostgreSqlTestStore Open()
    {
        var opened = PostgreSqlTestStore.Open(_connectionString, _schema);
        _opened.Add(opened);
        return opened;
    }
}
