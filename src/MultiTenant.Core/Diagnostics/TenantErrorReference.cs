using System.Globalization;
using System.Security.Cryptography;

namespace MultiTenant.Diagnostics;

/// <summary>
/// Ties an error that callers see to the log line that holds its exception (issue 9). Tenant statuses, the dashboard and the API's
/// problem details are read by API callers, so where an exception nobody wrote for them (a socket, a driver, a store, a bug) is the
/// cause, they say a short fixed reason and a random error id, never the exception's text, which may hold a connection string, a token
/// or an internal host name; the log line of the failure carries the same id and the exception, so an operator finds one from the
/// other. The coordinator uses it for failed connects and failed runs, <c>MapTenantApi()</c> for failed sends; clients may use it too.
/// </summary>
public static class TenantErrorReference
{
    /// <summary>A new error id: 8 lowercase hex digits (32 random bits, enough to find one line in a host's log).</summary>
    /// <returns>The id, such as <c>3fa2c1d0</c>.</returns>
    public static string NewId() => RandomNumberGenerator.GetHexString(8, lowercase: true);

    /// <summary>The text callers see: <c>{reason}; error id {errorId} in the log (event {eventId})</c>.</summary>
    /// <param name="reason">
    /// A short fixed reason, such as <c>connect failed</c>: never text taken from an exception, except a message written for callers
    /// (<see cref="Clients.TenantConnectException"/>, <see cref="Clients.TenantFatalException"/>).
    /// </param>
    /// <param name="errorId">The id from <see cref="NewId"/>, also written in the log line with the exception.</param>
    /// <param name="eventId">The event id of that log line (see <see cref="MultiTenantEventIds"/>).</param>
    /// <returns>The text.</returns>
    public static string Describe(string reason, string errorId, int eventId)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        ArgumentException.ThrowIfNullOrEmpty(errorId);
        return string.Create(CultureInfo.InvariantCulture, $"{reason}; error id {errorId} in the log (event {eventId})");
    }
}
