using System.Text;
using MultiTenant.CloudApi.Webhooks;

namespace MultiTenant.CloudApi.Tests.Infrastructure;

/// <summary>Posts a webhook delivery signed as Meta signs it (<c>X-Hub-Signature-256</c>, HMAC-SHA256 of the body with an app secret).</summary>
public static class SignedWebhook
{
    public const string Path = "/webhooks/whatsapp";

    public static Task<HttpResponseMessage> PostAsync(HttpClient http, string payload, string appSecret = CloudApiTestHost.AppSecret, string path = Path)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        request.Headers.Add(WebhookSignature.HeaderName, WebhookSignature.Compute(appSecret, Encoding.UTF8.GetBytes(payload)));
        return http.SendAsync(request);
    }
}
