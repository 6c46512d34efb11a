using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MultiTenant.CloudApi.Tests;

/// <summary>The Meta apps and media options: bound from configuration, validated at start.</summary>
public sealed class MetaAppsConfigurationTests
{
    [Fact]
    public void Apps_bind_from_configuration()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["WhatsAppTenants:CloudApi:Apps:0:AppId"] = "1234567890",
            ["WhatsAppTenants:CloudApi:Apps:0:AppSecret"] = "secret-a",
            ["WhatsAppTenants:CloudApi:Apps:0:PreviousAppSecret"] = "secret-a-old",
            ["WhatsAppTenants:CloudApi:Apps:0:VerifyToken"] = "token-a",
            ["WhatsAppTenants:CloudApi:Apps:1:AppId"] = "2345678901",
            ["WhatsAppTenants:CloudApi:Apps:1:AppSecret"] = "secret-b",
            ["WhatsAppTenants:CloudApi:Apps:1:VerifyToken"] = "token-b",
            ["WhatsAppTenants:CloudApi:MediaRequestTimeout"] = "00:02:00",
        });
        builder.Services.AddWhatsAppTenants().UseCloudApi();
        using var host = builder.Build();

        var options = host.Services.GetRequiredService<IOptions<CloudApiOptions>>().Value;

        Assert.Equal(["1234567890", "2345678901"], options.Apps.Select(static a => a.AppId));
        Assert.Equal(("secret-a", "secret-a-old", "token-a"), (options.Apps[0].AppSecret, options.Apps[0].PreviousAppSecret, options.Apps[0].VerifyToken));
        Assert.Null(options.Apps[1].PreviousAppSecret);
        Assert.Equal(TimeSpan.FromMinutes(2), options.MediaRequestTimeout);
    }

    [Theory]
    [InlineData("Apps:0", "AppId", "12 34")]
    [InlineData("Apps:0", "AppSecret", " ")]
    [InlineData("Apps:0", "VerifyToken", "")]
    [InlineData("Apps:1", "AppId", "1111")]
    [InlineData("PreviousAppSecret", null, "old-without-current")]
    [InlineData("MediaRequestTimeout", null, "02:00:00")]
    public async Task Invalid_apps_and_media_options_fail_the_host_at_start(string key, string? member, string value)
    {
        var settings = new Dictionary<string, string?>
        {
            ["WhatsAppTenants:CloudApi:Apps:0:AppId"] = "1111",
            ["WhatsAppTenants:CloudApi:Apps:0:AppSecret"] = "secret-a",
            ["WhatsAppTenants:CloudApi:Apps:0:VerifyToken"] = "token-a",
        };
        if (key == "Apps:1")
        {
            settings["WhatsAppTenants:CloudApi:Apps:1:AppSecret"] = "secret-b";
            settings["WhatsAppTenants:CloudApi:Apps:1:VerifyToken"] = "token-b";
        }

        settings["WhatsAppTenants:CloudApi:" + key + (member is null ? string.Empty : ":" + member)] = value;
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddWhatsAppTenants().UseCloudApi();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_webhook_maps_with_apps_only_and_no_default_secret()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddWhatsAppTenants().UseCloudApi(o => o.Apps.Add(new CloudApiMetaApp { AppId = "1111", AppSecret = "s", VerifyToken = "t" }));
        using var app = builder.Build();

        var group = app.MapCloudApiWebhook();

        Assert.NotNull(group);
    }
}
