using Microsoft.Extensions.Options;

namespace MultiTenant.Secrets;

/// <summary>
/// Options of secrets at rest, bound from the <c>WhatsAppTenants:Secrets</c> configuration section and validated when the host starts.
/// Secrets are encrypted with ASP.NET Core Data Protection keys (the key ring); the key ring is itself encrypted with the key-encryption
/// key (KEK) configured here, which never lives in the database.
/// </summary>
public sealed class TenantSecretsOptions
{
    /// <summary>The configuration section the options bind to: <c>WhatsAppTenants:Secrets</c>.</summary>
    public const string SectionName = "WhatsAppTenants:Secrets";

    /// <summary>
    /// The Data Protection application name (<c>MultiTenant</c>): fixed, so every host of a fleet derives the same keys from the shared
    /// key ring whatever its content root or process name.
    /// </summary>
    public const string ApplicationName = "MultiTenant";

    /// <summary>The shortest <see cref="KeyLifetime"/> accepted (7 days, Data Protection's own minimum).</summary>
    public static readonly TimeSpan MinKeyLifetime = TimeSpan.FromDays(7);

    /// <summary>
    /// The key-encryption key: base64 of exactly 32 random bytes (for example <c>openssl rand -base64 32</c>), from configuration or a
    /// secret manager, never from the database. Every key of the key ring is encrypted with it (AES-256-GCM) before it is stored, and
    /// every host of a fleet must have it. No default. Required when the key ring is stored in a database (<c>UsePostgreSql()</c>):
    /// start-up fails with a <see cref="TenantSecretsConfigurationException"/> without it. Without a database (the embedded store) it is
    /// optional: the key ring and a random KEK then live in process memory only, like the embedded store's data. An empty value counts
    /// as not set.
    /// </summary>
    public string? KeyEncryptionKey { get; set; }

    /// <summary>
    /// Earlier key-encryption keys (each base64 of 32 bytes), used only to decrypt keys that they encrypted; new keys are always
    /// encrypted with <see cref="KeyEncryptionKey"/>. To rotate the KEK: set the new one as <see cref="KeyEncryptionKey"/>, move the old
    /// one here, restart the hosts, and keep it here for as long as secrets protected by the keys it wraps may be read. Default empty.
    /// </summary>
    public IList<string> PreviousKeyEncryptionKeys { get; } = [];

    /// <summary>
    /// How long a new Data Protection key is the default before the next one replaces it (old keys stay readable forever). Default 90
    /// days; at least <see cref="MinKeyLifetime"/> (7 days). Every host of a fleet should use the same value.
    /// </summary>
    public TimeSpan KeyLifetime { get; set; } = TimeSpan.FromDays(90);
}

/// <summary>Validates <see cref="TenantSecretsOptions"/>: the keys are base64 of 32 bytes, the lifetime is in range.</summary>
internal sealed class TenantSecretsOptionsValidator : IValidateOptions<TenantSecretsOptions>
{
    public ValidateOptionsResult Validate(string? name, TenantSecretsOptions options)
    {
        var failures = new List<string>();
        if (!string.IsNullOrWhiteSpace(options.KeyEncryptionKey) && KeyEncryptionKeys.Describe(options.KeyEncryptionKey) is { } problem)
        {
            failures.Add($"{TenantSecretsOptions.SectionName}:{nameof(TenantSecretsOptions.KeyEncryptionKey)} {problem}");
        }

        for (int i = 0; i < options.PreviousKeyEncryptionKeys.Count; i++)
        {
            if (KeyEncryptionKeys.Describe(options.PreviousKeyEncryptionKeys[i]) is { } previousProblem)
            {
                failures.Add($"{TenantSecretsOptions.SectionName}:{nameof(TenantSecretsOptions.PreviousKeyEncryptionKeys)}:{i} {previousProblem}");
            }
        }

        if (options.KeyLifetime < TenantSecretsOptions.MinKeyLifetime || options.KeyLifetime > TimeSpan.FromDays(3650))
        {
            failures.Add($"{TenantSecretsOptions.SectionName}:{nameof(TenantSecretsOptions.KeyLifetime)} must be between 7 days and 3650 days; it is {options.KeyLifetime}.");
        }

        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}
