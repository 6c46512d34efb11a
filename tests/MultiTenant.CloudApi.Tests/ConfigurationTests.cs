using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MultiTenant.CloudApi.Tests;

/// <summary>Options binding and validation at start, and the endpoint mappers' checks.</summary>
public sealed class ConfigurationTests
{
    [Fact]
    public void Options_bind_from_the_WhatsAppTenants_CloudApi_section_and_code_wins()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["WhatsAppTenants:CloudApi:GraphBaseUrl"] = "http://127.0.0.1:9999/graph",
            ["WhatsAppTenants:CloudApi:GraphApiVersion"] = "v20.0",
            ["WhatsAppTenants:CloudApi:AppSecret"] = "from-configuration",
            ["WhatsAppTenants:CloudApi:VerifyToken"] = "verify",
            ["WhatsAppTenants:CloudApi:MessagesPerSecond"] = "250",
            ["WhatsAppTenants:CloudApi:TenantMessagesPerSecond:tenant-gold"] = "1000",
            ["WhatsAppTenants:CloudApi:TemplateCacheDuration"] = "00:01:00",
        });
        builder.Services.AddWhatsAppTenants().UseCloudApi(o => o.AppSecret = "from-code");
        using var host = builder.Build();

        var options = host.Services.GetRequiredService<IOptions<CloudApiOptions>>().Value;

        Assert.Equal(new Uri("http://127.0.0.1:9999/graph"), options.GraphBaseUrl);
        Assert.Equal("v20.0", options.GraphApiVersion);
        Assert.Equal(250, options.MessagesPerSecond);
        Assert.Equal(1000, options.MessagesPerSecondFor(TenantId.Parse("tenant-gold")));
        Assert.Equal(250, options.MessagesPerSecondFor(TenantId.Parse("tenant-other")));
        Assert.Equal(TimeSpan.FromMinutes(1), options.TemplateCacheDuration);
        Assert.Equal("from-code", options.AppSecret);
        Assert.Equal("verify", options.VerifyToken);
    }

    [Fact]
    public void Defaults_are_the_documented_ones()
    {
        var options = new CloudApiOptions();

        Assert.Equal(new Uri("https://graph.facebook.com"), options.GraphBaseUrl);
        Assert.Equal("v21.0", options.GraphApiVersion);
        Assert.Equal(80, options.MessagesPerSecond);
        Assert.Equal(10_000, options.UnroutedCapacity);
    }

    [Theory]
    [InlineData("GraphApiVersion", "21")]
    [InlineData("MessagesPerSecond", "0")]
    [InlineData("GraphBaseUrl", "ftp://graph.example")]
    [InlineData("MaxSendWait", "01:00:00")]
    [InlineData("TenantMessagesPerSecond:tenant-gold", "1001")]
    [InlineData("TenantMessagesPerSecond:bad id!", "100")]
    [InlineData("TemplateCacheDuration", "2.00:00:00")]
    [InlineData("AppSecret", " ")]
    [InlineData("UnroutedCapacity", "-1")]
    public async Task Invalid_options_fail_the_host_at_start(string key, string value)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["WhatsAppTenants:CloudApi:" + key] = value });
        builder.Services.AddWhatsAppTenants().UseCloudApi();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Webhook_needs_the_app_secret_and_the_verify_token()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddWhatsAppTenants().UseCloudApi(o => o.VerifyToken = "verify");
        using var app = builder.Build();

        var error = Assert.Throws<InvalidOperationException>(() => app.MapCloudApiWebhook());

        Assert.Contains("AppSecret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Endpoints_need_UseCloudApi()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddWhatsAppTenants();
        using var app = builder.Build();

        Assert.Contains("UseCloudApi", Assert.Throws<InvalidOperationException>(() => app.MapCloudApiWebhook()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseCloudApi_twice_registers_the_services_once()
    {
        var services = new ServiceCollection();
        services.AddWhatsAppTenants().UseCloudApi().UseCloudApi();

        Assert.Single(services, d => d.ServiceType == typeof(ICloudApiCredentialStore));
        Assert.Single(services, d => d.ServiceType == typeof(IConfigureOptions<CloudApiOptions>) && d.ImplementationFactory is not null);
    }
}
