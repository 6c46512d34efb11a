using System.Text;
using System.Text.Json;
using MultiTenant.AspNetCore.Http;
using MultiTenant.Clients;

namespace MultiTenant.AspNetCore.Dashboard;

/// <summary>The small JSON objects of the dashboard's events and actions (snake_case, as the API).</summary>
internal static class DashboardJson
{
    public static string Status(TenantStatus s) => Write(w =>
    {
        w.WriteString("business_id", s.BusinessId.Value);
        w.WriteString("status", s.State.ToWireName());
        w.WriteString("updated_at", Rfc3339.Format(s.UpdatedAt));
        if (s.Host is not null)
        {
            w.WriteString("host", s.Host);
        }

        if (s.Error is not null)
        {
            w.WriteString("error", s.Error);
        }
    });

    public static string Pairing(TenantPairingUpdate u) => Write(w =>
    {
        w.WriteString("business_id", u.BusinessId.Value);
        if (u.Challenge?.QrCode is { } qr)
        {
            w.WriteString("qr_code", qr);
        }

        if (u.Challenge?.PairingCode is { } code)
        {
            w.WriteString("pairing_code", code);
        }
    });

    /// <summary>A <c>traffic</c> event (<see cref="DashboardTraffic"/>), its members written by <paramref name="body"/>.</summary>
    public static string Traffic(Action<Utf8JsonWriter> body) => Write(body);

    private static string Write(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, ApiJson.WriterOptions))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
