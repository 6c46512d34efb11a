using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MultiTenant.Wuzapi.Tests;

/// <summary>Options bound from configuration and validated when the host starts.</summary>
public sealed class ConfigurationTests
{
    [Fact]
    public void Engines_assignment_and_webhook_url_bind_from_configuration()
    {
        using var provider = Build(new Dictionary<string, string?>
        {
            ["WhatsAppTenants:Wuzapi:Engines:a:BaseUrl"] = "http://wuzapi-a:8080",
            ["WhatsAppTenants:Wuzapi:Engines:a:AdminToken"] = "admin-a",
            ["WhatsAppTenants:Wuzapi:Engines:b:BaseUrl"] = "http://wuzapi-b:8080/base/",
            ["WhatsAppTenants:Wuzapi:Engines:b:AdminToken"] = "admin-b",
            ["WhatsAppTenants:Wuzapi:TenantEngines:vip"] = "b",
            ["WhatsAppTenants:Wuzapi:WebhookBaseUrl"] = "http://multitenant:8080/webhooks/wuzapi",
        });

        var options = provider.GetRequiredService<IOptions<WuzapiOptions>>().Value;
        Assert.Equal(["a", "b"], options.Engines.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("admin-b", options.Engines["b"].AdminToken);
        Assert.Equal("b", options.TenantEngines["vip"]);
        var engines = provider.GetRequiredService<Engine.WuzapiEngines>();
        Assert.Equal("b", engines.Assign(TenantId.Parse("vip")).Name);
        Assert.Equal(["a", "b", "a"], new[] { "t1", "t2", "t3" }.Select(t => engines.Assign(TenantId.Parse(t)).Name)); // round robin
    }

    [Theory]
    [InlineData(null, "http://multitenant/webhooks/wuzapi", "needs at least one engine")]
    [InlineData("ftp://wuzapi", "http://multitenant/webhooks/wuzapi", "BaseUrl must be an absolute http or https URI")]
    [InlineData("http://wuzapi:8080", null, "WebhookBaseUrl")]
    public void Invalid_options_fail_when_the_host_starts(string? engineUrl, string? webhook, string expected)
    {
        var settings = new Dictionary<string, string?> { ["WhatsAppTenants:Wuzapi:WebhookBaseUrl"] = webhook };
        if (engineUrl is not null)
        {
            settings["WhatsAppTenants:Wuzapi:Engines:main:BaseUrl"] = engineUrl;
            settings["WhatsAppTenants:Wuzapi:Engines:main:AdminToken"] = "admin";
        }

        using var provider = Build(settings);
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<WuzapiOptions>>().Value);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_assignment_to_an_unknown_engine_and_an_unknown_event_type_fail()
    {
        using var provider = Build(new Dictionary<string, string?>
        {
            ["WhatsAppTenants:Wuzapi:Engines:a:BaseUrl"] = "http://wuzapi-a:8080",
            ["WhatsAppTenants:Wuzapi:Engines:a:AdminToken"] = "admin-a",
            ["WhatsAppTenants:Wuzapi:TenantEngines:vip"] = "z",
            ["WhatsAppTenants:Wuzapi:Events:0"] = "Calls",
            ["WhatsAppTenants:Wuzapi:WebhookBaseUrl"] = "http://multitenant:8080/webhooks/wuzapi",
        });

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<WuzapiOptions>>().Value);
        Assert.Contains("names the engine 'z'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'Calls' is not one of", ex.Message, StringComparison.Ordinal);
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddLogging();
        services.AddWhatsAppTenants().UseWuzapi();
        return services.BuildServiceProvider();
    }
}
