namespace MultiTenant.CloudApi;

/// <summary>
/// One Meta app whose webhook delivers to this host, for a platform whose businesses come from several apps
/// (<see cref="CloudApiOptions.Apps"/>). Meta signs each app's deliveries with that app's secret; its webhook's callback URL is
/// <c>{webhook path}/{AppId}</c> (for example <c>/webhooks/whatsapp/1234567890</c>), checked only against this app's secrets and
/// verify token. Bound from <c>WhatsAppTenants:CloudApi:Apps:{n}:AppId</c>, <c>…:AppSecret</c>, <c>…:PreviousAppSecret</c>,
/// <c>…:VerifyToken</c>.
/// </summary>
public sealed class CloudApiMetaApp
{
    /// <summary>The app id (App settings → Basic): 1 to 64 of <c>0-9 a-z A-Z _ -</c>. Required; unique among the apps.</summary>
    public string AppId { get; set; } = string.Empty;

    /// <summary>The app's secret, the key of its deliveries' <c>X-Hub-Signature-256</c>. Required; never logged.</summary>
    public string AppSecret { get; set; } = string.Empty;

    /// <summary>
    /// The secret before a rotation, still accepted next to <see cref="AppSecret"/> while Meta switches over; remove it once the new
    /// secret is in use. Optional; never logged.
    /// </summary>
    public string? PreviousAppSecret { get; set; }

    /// <summary>The verify token typed into this app's webhook settings (the handshake's <c>hub.verify_token</c>). Required.</summary>
    public string VerifyToken { get; set; } = string.Empty;
}
