using MultiTenant.PostgreSql.Fleet;
using Microsoft.Extensions.Options;

namespace MultiTenant.PostgreSql.Tests.Fleet;

public sealed class RendezvousTests
{
    private static List<TenantId> Tenants(int count) => Enumerable.Range(0, count).Select(i => TenantId.Parse($"tenant-{i}")).ToList();

    [Fact]
    public void Weights_are_stable_across_processes()
    {
        // A fixed value (computed by an independent implementation): a change of the hash would move tenants between the hosts of a
        // fleet running mixed versions, so it must never change silently.
        Assert.Equal(0xc7fda96257f34b52UL, Rendezvous.Weight("host-a", "tenant1"));
        Assert.NotEqual(Rendezvous.Weight("ab", "c"), Rendezvous.Weight("a", "bc"));
    }

    [Fact]
    public void Tenants_spread_evenly_over_the_hosts()
    {
        var hosts = new[] { new FleetHost("a", null), new FleetHost("b", null), new FleetHost("c", null) };
        var placement = Rendezvous.Assign(Tenants(3000), hosts);
        foreach (var group in placement.GroupBy(p => p.Value))
        {
            Assert.InRange(group.Count(), 850, 1150);
        }
    }

    [Fact]
    public void A_joining_host_moves_only_the_tenants_it_gains()
    {
        var tenants = Tenants(2000);
        var before = Rendezvous.Assign(tenants, [new FleetHost("a", null), new FleetHost("b", null)]);
        var after = Rendezvous.Assign(tenants, [new FleetHost("a", null), new FleetHost("b", null), new FleetHost("c", null)]);
        int moved = 0;
        foreach (var tenant in tenants)
        {
            if (before[tenant] != after[tenant])
            {
                Assert.Equal("c", after[tenant]);
                moved++;
            }
        }

        Assert.InRange(moved, 550, 780);
    }

    [Fact]
    public void A_full_host_sends_the_rest_to_the_next_host_and_no_host_exceeds_its_capacity()
    {
        var placement = Rendezvous.Assign(Tenants(100), [new FleetHost("a", 10), new FleetHost("b", null)]);
        Assert.Equal(10, placement.Count(p => p.Value == "a"));
        Assert.Equal(90, placement.Count(p => p.Value == "b"));

        var tooSmall = Rendezvous.Assign(Tenants(30), [new FleetHost("a", 10), new FleetHost("b", 10)]);
        Assert.Equal(10, tooSmall.Count(p => p.Value is null));
    }

    [Fact]
    public void No_live_host_places_nothing()
    {
        Assert.All(Rendezvous.Assign(Tenants(5), []), p => Assert.Null(p.Value));
    }

    [Fact]
    public void Fleet_options_refuse_a_renew_interval_that_cannot_survive_one_failed_renewal()
    {
        var valid = new FleetOptions();
        Assert.True(new FleetOptionsValidator().Validate(null, valid).Succeeded);
        var invalid = new FleetOptions { LeaseTtl = TimeSpan.FromSeconds(5), RenewInterval = TimeSpan.FromSeconds(3) };
        var result = new FleetOptionsValidator().Validate(null, invalid);
        Assert.True(result.Failed);
        Assert.Contains("RenewInterval", result.FailureMessage, StringComparison.Ordinal);
        Assert.Throws<OptionsValidationException>(() => FleetOptionsValidator.ThrowIfInvalid(new FleetOptions { SafetyMargin = TimeSpan.FromSeconds(20) }));
    }

    [Fact]
    public void Fleet_options_refuse_a_relay_timeout_outside_one_second_to_two_minutes()
    {
        Assert.Equal(TimeSpan.FromSeconds(15), new FleetOptions().RelayTimeout);
        foreach (var timeout in new[] { TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(3) })
        {
            var result = new FleetOptionsValidator().Validate(null, new FleetOptions { RelayTimeout = timeout });
            Assert.True(result.Failed);
            Assert.Contains("RelayTimeout", result.FailureMessage, StringComparison.Ordinal);
        }
    }
}
