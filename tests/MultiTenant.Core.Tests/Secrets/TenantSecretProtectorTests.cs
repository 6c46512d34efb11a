using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MultiTenant.Secrets;
using MultiTenant.Tests.Infrastructure;

namespace MultiTenant.Tests.Secrets;

public sealed class TenantSecretProtectorTests
{
    private const string Purpose = "test.secret";
    private static readonly TenantId Acme = TenantId.Parse("acme");
    private static readonly TenantId Globex = TenantId.Parse("globex");
    private static readonly byte[] Token = Encoding.ASCII.GetBytes("EAAG-secret-token-0123456789");

    [Fact]
    public void Secrets_round_trip_and_the_protected_bytes_do_not_contain_the_secret()
    {
        using var provider = Build();
        var protector = provider.GetRequiredService<ITenantSecretProtector>();

        byte[] protectedBytes = protector.Protect(Acme, Purpose, Token);

        Assert.Equal(Token, protector.Unprotect(Acme, Purpose, protectedBytes));
        Assert.False(Contains(protectedBytes, Token));
        Assert.DoesNotContain("secret-token", Convert.ToBase64String(protectedBytes), StringComparison.Ordinal);
        Assert.IsType<DataProtectionTenantSecretProtector>(protector);
    }

    [Fact]
    public void Every_protection_of_the_same_secret_differs()
    {
        using var provider = Build();
        var protector = provider.GetRequiredService<ITenantSecretProtector>();

        Assert.NotEqual(protector.Protect(Acme, Purpose, Token), protector.Protect(Acme, Purpose, Token));
    }

    [Fact]
    public void Tampered_truncated_or_foreign_bytes_throw_the_typed_exception()
    {
        using var provider = Build();
        var protector = provider.GetRequiredService<ITenantSecretProtector>();
        byte[] protectedBytes = protector.Protect(Acme, Purpose, Token);

        for (int i = 0; i < protectedBytes.Length; i += 7)
        {
            byte[] tampered = (byte[])protectedBytes.Clone();
            tampered[i] ^= 0x01;
            var ex = Assert.Throws<TenantSecretUnreadableException>(() => protector.Unprotect(Acme, Purpose, tampered));
            Assert.Equal(Acme, ex.Tenant);
            Assert.Equal(Purpose, ex.Purpose);
            Assert.IsAssignableFrom<CryptographicException>(ex.InnerException);
        }

        Assert.Throws<TenantSecretUnreadableException>(() => protector.Unprotect(Acme, Purpose, protectedBytes[..^1]));
        Assert.Throws<TenantSecretUnreadableException>(() => protector.Unprotect(Acme, Purpose, []));
        Assert.Throws<TenantSecretUnreadableException>(() => protector.Unprotect(Acme, Purpose, Token));
    }

    [Fact]
    public void A_secret_protected_for_one_tenant_or_purpose_cannot_be_read_as_another()
    {
        using var provider = Build();
        var protector = provider.GetRequiredService<ITenantSecretProtector>();
        byte[] protectedBytes = protector.Protect(Acme, Purpose, Token);

        var ex = Assert.Throws<TenantSecretUnreadableException>(() => protector.Unprotect(Globex, Purpose, protectedBytes));
        Assert.Throws<TenantSecretUnreadableException>(() => protector.Unprotect(Acme, "other.purpose", protectedBytes));
        Assert.DoesNotContain("secret-token", ex.Message, StringComparison.Ordinal);
        Assert.Contains("globex", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        using var provider = Build();
        var protector = provider.GetRequiredService<ITenantSecretProtector>();

        Assert.Throws<ArgumentException>(() => protector.Protect(default, Purpose, Token));
        Assert.Throws<ArgumentException>(() => protector.Protect(Acme, "", Token));
        Assert.Throws<ArgumentException>(() => protector.Protect(Acme, "a\nb", Token));
        Assert.Throws<ArgumentException>(() => protector.Protect(Acme, new string('p', 256), Token));
        Assert.Throws<ArgumentNullException>(() => protector.Protect(Acme, Purpose, null!));
        Assert.Throws<ArgumentException>(() => protector.Unprotect(default, Purpose, Token));
    }

    [Fact]
    public void After_a_key_rotation_new_secrets_use_the_new_key_and_old_ones_stay_readable_on_every_host()
    {
        var repository = new SharedRepository();
        string kek = NewKek();
        using var hostA = Build(repository, kek);
        using var hostB = Build(repository, kek);
        var a = hostA.GetRequiredService<DataProtectionTenantSecretProtector>();
        var b = hostB.GetRequiredService<ITenantSecretProtector>();
        byte[] before = a.Protect(Acme, Purpose, Token);
        Assert.Equal(Token, b.Unprotect(Acme, Purpose, before));

        a.RotateKey();
        byte[] after = a.Protect(Acme, Purpose, Token);

        Assert.Equal(2, repository.Keys.Count);
        Assert.NotEqual(KeyIdOf(before), KeyIdOf(after));
        Assert.Equal(Token, a.Unprotect(Acme, Purpose, before));
        Assert.Equal(Token, a.Unprotect(Acme, Purpose, after));

        // Host b cached the key ring before the rotation: it finds the new key in the shared repository when it meets it.
        Assert.Equal(Token, b.Unprotect(Acme, Purpose, after));
        Assert.Equal(Token, b.Unprotect(Acme, Purpose, before));
    }

    [Fact]
    public void The_stored_key_ring_holds_no_key_in_clear_and_names_its_key_encryption_key()
    {
        var repository = new SharedRepository();
        using var provider = Build(repository, NewKek());
        provider.GetRequiredService<ITenantSecretProtector>().Protect(Acme, Purpose, Token);

        var key = Assert.Single(repository.Keys);
        Assert.Empty(key.Descendants("masterKey"));
        var encrypted = Assert.Single(key.Descendants("aesGcmEncrypted"));
        Assert.Matches("^[0-9a-f]{16}$", (string?)encrypted.Attribute("kek"));
    }

    [Fact]
    public void After_a_key_encryption_key_rotation_old_and_new_secrets_are_readable_with_the_previous_kek_configured()
    {
        var repository = new SharedRepository();
        string kek1 = NewKek();
        string kek2 = NewKek();
        byte[] old;
        using (var before = Build(repository, kek1))
        {
            old = before.GetRequiredService<ITenantSecretProtector>().Protect(Acme, Purpose, Token);
        }

        byte[] fresh;
        using (var rotated = Build(repository, kek2, previous: [kek1]))
        {
            var protector = rotated.GetRequiredService<DataProtectionTenantSecretProtector>();
            Assert.Equal(Token, protector.Unprotect(Acme, Purpose, old));
            protector.RotateKey();
            fresh = protector.Protect(Acme, Purpose, Token);
            Assert.Equal(Token, protector.Unprotect(Acme, Purpose, fresh));
        }

        string[] keks = [.. repository.Keys.Select(static k => (string)k.Descendants("aesGcmEncrypted").Single().Attribute("kek")!)];
        Assert.Equal(2, keks.Distinct().Count());

        // Without the previous KEK, the new secret is readable and the old one fails with the typed exception (never a crash).
        using var withoutPrevious = Build(repository, kek2);
        var last = withoutPrevious.GetRequiredService<ITenantSecretProtector>();
        Assert.Equal(Token, last.Unprotect(Acme, Purpose, fresh));
        var ex = Assert.Throws<TenantSecretUnreadableException>(() => last.Unprotect(Acme, Purpose, old));
        Assert.Contains("PreviousKeyEncryptionKeys", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_ring_with_an_altered_key_fails_with_the_typed_exception()
    {
        var repository = new SharedRepository();
        string kek = NewKek();
        byte[] protectedBytes;
        using (var first = Build(repository, kek))
        {
            protectedBytes = first.GetRequiredService<ITenantSecretProtector>().Protect(Acme, Purpose, Token);
        }

        var encrypted = repository.Keys[0].Descendants("aesGcmEncrypted").Single();
        byte[] sealedBytes = Convert.FromBase64String(encrypted.Value);
        sealedBytes[^1] ^= 0x80;
        encrypted.Value = Convert.ToBase64String(sealedBytes);

        using var second = Build(repository, kek);
        Assert.Throws<TenantSecretUnreadableException>(() => second.GetRequiredService<ITenantSecretProtector>().Unprotect(Acme, Purpose, protectedBytes));
    }

    [Fact]
    public async Task A_durable_key_ring_without_a_key_encryption_key_fails_the_host_start_saying_what_to_set()
    {
        using var host = BuildHost([], tenants => tenants.UseSecretKeyRepository(static _ => new SharedRepository()));

        var ex = await Assert.ThrowsAsync<TenantSecretsConfigurationException>(() => host.StartAsync().WithTimeout());

        Assert.Contains("WhatsAppTenants:Secrets:KeyEncryptionKey", ex.Message, StringComparison.Ordinal);
        Assert.Contains("WhatsAppTenants__Secrets__KeyEncryptionKey", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_encryption_key_from_configuration_protects_the_durable_key_ring()
    {
        var repository = new SharedRepository();
        using var host = BuildHost(
            new() { ["WhatsAppTenants:Secrets:KeyEncryptionKey"] = NewKek() },
            tenants => tenants.UseSecretKeyRepository(_ => repository));

        await host.StartAsync().WithTimeout();
        var protector = host.Services.GetRequiredService<ITenantSecretProtector>();
        Assert.Equal(Token, protector.Unprotect(Acme, Purpose, protector.Protect(Acme, Purpose, Token)));
        Assert.Single(repository.Keys);
        await host.StopAsync().WithTimeout();
    }

    [Theory]
    [InlineData("KeyEncryptionKey", "not-base64!")]
    [InlineData("KeyEncryptionKey", "c2hvcnQ=")]
    [InlineData("PreviousKeyEncryptionKeys:0", "c2hvcnQ=")]
    public async Task Invalid_secrets_options_fail_the_host_start_without_repeating_the_value(string option, string value)
    {
        using var host = BuildHost(new() { ["WhatsAppTenants:Secrets:" + option] = value });

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().WithTimeout());

        Assert.Contains(option.Split(':')[0], ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(value, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_lifetime_under_seven_days_fails_the_host_start()
    {
        using var host = BuildHost(new() { ["WhatsAppTenants:Secrets:KeyLifetime"] = "6.00:00:00" });

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().WithTimeout());

        Assert.Contains("KeyLifetime", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_database_or_configuration_the_host_starts_with_an_in_memory_key_ring()
    {
        using var host = BuildHost([]);

        await host.StartAsync().WithTimeout();
        var protector = host.Services.GetRequiredService<ITenantSecretProtector>();
        Assert.Equal(Token, protector.Unprotect(Acme, Purpose, protector.Protect(Acme, Purpose, Token)));
        await host.StopAsync().WithTimeout();
    }

    internal static string NewKek() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static ServiceProvider Build(IXmlRepository? repository = null, string? kek = null, string[]? previous = null)
    {
        var services = new ServiceCollection().AddLogging();
        var tenants = services.AddWhatsAppTenants();
        if (repository is not null)
        {
            tenants.UseSecretKeyRepository(_ => repository);
        }

        tenants.ConfigureSecrets(o =>
        {
            o.KeyEncryptionKey = kek;
            foreach (string key in previous ?? [])
            {
                o.PreviousKeyEncryptionKeys.Add(key);
            }
        });
        return services.BuildServiceProvider();
    }

    private static IHost BuildHost(Dictionary<string, string?> configuration, Action<MultiTenant.Hosting.WhatsAppTenantsBuilder>? tenants = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(configuration);
        var whatsApp = builder.Services.AddWhatsAppTenants().UseClientFactory(new FakeClientFactory());
        tenants?.Invoke(whatsApp);
        return builder.Build();
    }

    /// <summary>The key id in a Data Protection payload: a 4-byte magic header, then the key's 16-byte id.</summary>
    private static Guid KeyIdOf(byte[] protectedBytes) => new(protectedBytes.AsSpan(4, 16));

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    /// <summary>A key ring store shared by several "hosts", as a database table would be.</summary>
    private sealed class SharedRepository : IXmlRepository
    {
        private readonly Lock _lock = new();

        public List<XElement> Keys { get; } = [];

        public IReadOnlyCollection<XElement> GetAllElements()
        {
            lock (_lock)
            {
                return [.. Keys.Select(static k => new XElement(k))];
            }
        }

        public void StoreElement(XElement element, string friendlyName)
        {
            lock (_lock)
            {
                Keys.Add(new XElement(element));
            }
        }
    }
}
