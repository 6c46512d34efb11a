using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MultiTenant.AspNetCore.Http;
using MultiTenant.Diagnostics;

namespace MultiTenant.AspNetCore.Health;

/// <summary>
/// Writes the JSON of <c>/health</c>, <c>/ready</c> and <c>/livez</c> exactly as SPEC §4 shows it. Only statuses, timestamps and the
/// checks' <see cref="HealthReportEntry.Data"/> are written: never a description or an exception.
/// </summary>
internal sealed class HealthResponseWriters(TimeProvider timeProvider)
{
    private const string JsonContentType = "application/json; charset=utf-8";

    /// <summary><c>{"status","timestamp","components":{"database":{"status","timestamp","details":{…}},"liveness":{…}}}</c>.</summary>
    public Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        string timestamp = Rfc3339.Format(timeProvider.GetUtcNow());
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer, ApiJson.WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("status", Name(report.Status));
            json.WriteString("timestamp", timestamp);
            json.WriteStartObject("components");
            foreach (var (name, entry) in report.Entries)
            {
                json.WriteStartObject(name);
                json.WriteString("status", Name(entry.Status));
                json.WriteString("timestamp", timestamp);
                if (entry.Data.Count > 0)
                {
                    json.WriteStartObject("details");
                    foreach (var (key, value) in entry.Data)
                    {
                        json.WritePropertyName(key);
                        WriteValue(json, value);
                    }

                    json.WriteEndObject();
                }

                json.WriteEndObject();
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return WriteAsync(context, buffer);
    }

    /// <summary><c>{"ready":true,"total":5,"connected":3}</c>, from the data of the <c>tenants</c> check.</summary>
    public Task WriteReadyAsync(HttpContext context, HealthReport report)
    {
        long total = 0;
        long connected = 0;
        if (report.Entries.TryGetValue(TenantHealthChecks.ReadinessCheckName, out var tenants))
        {
            total = ReadCount(tenants.Data, "total");
            connected = ReadCount(tenants.Data, "connected");
        }

        var buffer = new ArrayBufferWriter<byte>(64);
        using (var json = new Utf8JsonWriter(buffer, ApiJson.WriterOptions))
        {
            json.WriteStartObject();
            json.WriteBoolean("ready", report.Status != HealthStatus.Unhealthy);
            json.WriteNumber("total", total);
            json.WriteNumber("connected", connected);
            json.WriteEndObject();
        }

        return WriteAsync(context, buffer);
    }

    /// <summary><c>{"status":"healthy"}</c>: no dependency is checked.</summary>
    public Task WriteLivenessAsync(HttpContext context, HealthReport report)
    {
        var buffer = new ArrayBufferWriter<byte>(32);
        using (var json = new Utf8JsonWriter(buffer, ApiJson.WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("status", Name(report.Status));
            json.WriteEndObject();
        }

        return WriteAsync(context, buffer);
    }

    internal static string Name(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "healthy",
        HealthStatus.Degraded => "degraded",
        _ => "unhealthy",
    };

    private static async Task WriteAsync(HttpContext context, ArrayBufferWriter<byte> buffer)
    {
        context.Response.ContentType = JsonContentType;
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    private static long ReadCount(IReadOnlyDictionary<string, object> data, string key) =>
        data.TryGetValue(key, out var value) && value is IConvertible convertible
            ? convertible.ToInt64(CultureInfo.InvariantCulture)
            : 0;

    /// <summary>Writes a check's data value: numbers and booleans as such, timestamps in RFC 3339, anything else as invariant text.</summary>
    private static void WriteValue(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNullValue();
                break;
            case string s:
                json.WriteStringValue(s);
                break;
            case bool b:
                json.WriteBooleanValue(b);
                break;
            case int or long or short or byte or sbyte or ushort or uint:
                json.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case ulong u:
                json.WriteNumberValue(u);
                break;
            case double d when double.IsFinite(d):
                json.WriteNumberValue(d);
                break;
            case float f when float.IsFinite(f):
                json.WriteNumberValue(f);
                break;
            case decimal m:
                json.WriteNumberValue(m);
                break;
            case DateTimeOffset t:
                json.WriteStringValue(Rfc3339.Format(t));
                break;
            case DateTime t:
                json.WriteStringValue(Rfc3339.Format(new DateTimeOffset(DateTime.SpecifyKind(t, t.Kind == DateTimeKind.Unspecified ? DateTimeKind.Utc : t.Kind))));
                break;
            case Enum e:
                json.WriteStringValue(e.ToString());
                break;
            default:
                json.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }
}
