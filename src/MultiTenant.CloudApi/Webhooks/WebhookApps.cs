using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace MultiTenant.CloudApi.Webhooks;

/// <summary>
/// The Meta apps whose deliveries the webhook accepts: the default app (<see cref="CloudApiOptions.AppSecret"/>,
/// <see cref="CloudApiOptions.PreviousAppSecret"/> and <see cref="CloudApiOptions.VerifyToken"/>, at the webhook path itself) and each
/// of <see cref="CloudApiOptions.Apps"/> (at <c>{path}/{app_id}</c>). A delivery is checked against its own app's secrets only, so one
/// signed with another app's secret is refused (401).
/// </summary>
internal sealed class WebhookApps
{
    private readonly WebhookApp? _default;
    private readonly Dictionary<string, WebhookApp> _apps = new(StringComparer.Ordinal);

    public WebhookApps(IOptions<CloudApiOptions> options)
    {
        var settings = options.Value;
        if (!string.IsNullOrWhiteSpace(settings.AppSecret) && !string.IsNullOrWhiteSpace(settings.VerifyToken))
        {
            _default = new WebhookApp(null, settings.AppSecret, settings.PreviousAppSecret, settings.VerifyToken);
        }

        foreach (var app in settings.Apps)
        {
            _apps[app.AppId] = new WebhookApp(app.AppId, app.AppSecret, app.PreviousAppSecret, app.VerifyToken);
        }
    }

    /// <summary>Whether the default app (the webhook path without an app id) is configured.</summary>
    public bool HasDefault => _default is not null;

    /// <summary>Whether any app is configured by id.</summary>
    public bool HasApps => _apps.Count > 0;

    /// <summary>The app of a webhook route: <paramref name="appId"/> <see langword="null"/> for the default app.</summary>
    public WebhookApp? Find(string? appId) =>
        appId is null ? _default : _apps.GetValueOrDefault(appId);
}

/// <summary>One app's webhook secrets (current and, during a rotation, previous) and verify token.</summary>
internal sealed class WebhookApp
{
    private readonly byte[][] _secrets;
    private readonly byte[] _verifyToken;

    public WebhookApp(string? appId, string secret, string? previousSecret, string verifyToken)
    {
        AppId = appId;
        _secrets = string.IsNullOrEmpty(previousSecret) ? [Encoding.UTF8.GetBytes(secret)] : [Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(previousSecret)];
        _verifyToken = Encoding.UTF8.GetBytes(verifyToken);
    }

    /// <summary>The app id, or <see langword="null"/> for the default app.</summary>
    public string? AppId { get; }

    /// <summary><see langword="null"/> when <paramref name="header"/> is a valid signature of the body with one of the app's secrets; otherwise why not.</summary>
    public string? VerifySignature(ReadOnlySpan<byte> body, string? header)
    {
        string? problem = null;
        foreach (var secret in _secrets)
        {
            problem = WebhookSignature.Verify(secret, body, header);
            if (problem is null)
            {
                return null;
            }
        }

        return problem;
    }

    /// <summary>Whether <paramref name="token"/> is the app's verify token (constant time).</summary>
    public bool MatchesVerifyToken(string? token) =>
        token is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(token), _verifyToken);
}
