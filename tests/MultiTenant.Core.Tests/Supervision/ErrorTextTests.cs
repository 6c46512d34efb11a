using Microsoft.Extensions.Logging.Testing;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Tests.Infrastructure;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Tests.Supervision;

/// <summary>Issue 9: status errors never carry an exception's text; a fixed reason and an error id that the log line carries too.</summary>
public sealed partial class ErrorTextTests
{
    private const string Secret = "Host=db.internal;Username=app;Password=hunter2";

    [Theory]
    [InlineData("socket")]
    [InlineData("library")]
    public async Task A_failed_connect_shows_a_fixed_reason_and_an_error_id_that_the_log_line_with_the_exception_carries(string kind)
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartAsync(t);
        Exception thrown = kind == "socket" ? new IOException(Secret) : new LibraryFailure(Secret); // a MultiTenant.* type too

        (await client.NextConnectAsync()).Fail(thrown);

        var status = await h.Statuses.WaitForStateAsync(t, TenantState.Disconnected);
        string errorId = AssertReference(status.Error, "connect failed", MultiTenantEventIds.ConnectFailed);
        var line = Assert.Single(h.Logs.GetSnapshot(), r => r.Id.Id == MultiTenantEventIds.ConnectFailed);
        Assert.Contains(errorId, line.Message, StringComparison.Ordinal);
        Assert.Same(thrown, line.Exception);
    }

    [Fact]
    public async Task A_TenantConnectException_shows_the_clients_public_reason_and_keeps_retrying()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartAsync(t);

        (await client.NextConnectAsync()).Fail(new TenantConnectException("WhatsApp is throttling this number (code 80007).", new IOException(Secret)));

        var status = await h.Statuses.WaitForStateAsync(t, TenantState.Disconnected);
        string errorId = AssertReference(status.Error, "connect failed: WhatsApp is throttling this number (code 80007).", MultiTenantEventIds.ConnectFailed);
        Assert.Contains(h.Logs.GetSnapshot(), r => r.Id.Id == MultiTenantEventIds.ConnectFailed && r.Message.Contains(errorId, StringComparison.Ordinal));
        Assert.Equal(2, (await client.NextConnectAsync()).Number); // transient: retried
    }

    [Fact]
    public async Task A_failed_client_creation_says_so_with_an_error_id()
    {
        await using var h = Create();
        h.Factory.BeforeCreate = (_, _) => throw new InvalidOperationException(Secret, new IOException("token EAAB-secret"));
        var t = Id("tenant1");

        await h.Coordinator.StartAsync(t).WithTimeout();

        var status = await h.Statuses.WaitForStateAsync(t, TenantState.Disconnected);
        string errorId = AssertReference(status.Error, "creating the client failed", MultiTenantEventIds.ConnectFailed);
        Assert.DoesNotContain("EAAB", status.Error, StringComparison.Ordinal);
        Assert.Contains(h.Logs.GetSnapshot(), r => r.Id.Id == MultiTenantEventIds.ConnectFailed && r.Message.Contains(errorId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_run_that_fails_unexpectedly_shows_a_fixed_reason_and_logs_the_exception_under_the_same_error_id()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartConnectedAsync(t);
        var probing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fail = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thrown = new LibraryFailure(Secret);
        client.Health = async _ =>
        {
            probing.SetResult();
            await fail.Task;
            throw thrown; // while the tenant stops, and not the cancellation a stop expects: a failure nobody foresaw
        };
        await h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(10));
        h.Time.Advance(TimeSpan.FromSeconds(10));
        await probing.Task.WithTimeout();
        var stopping = h.Coordinator.StopAsync(t).AsTask(); // the stop is requested when this returns; the run waits for the probe

        fail.SetResult();
        await stopping.WithTimeout();

        var error = Assert.Single(h.Statuses.History(t), static s => s.State == TenantState.Error);
        string errorId = AssertReference(error.Error, "the tenant's run failed unexpectedly", MultiTenantEventIds.TenantFailedUnexpectedly);
        var line = Assert.Single(h.Logs.GetSnapshot(), r => r.Id.Id == MultiTenantEventIds.TenantFailedUnexpectedly);
        Assert.Contains(errorId, line.Message, StringComparison.Ordinal);
        Assert.Same(thrown, line.Exception);
        Assert.All(h.Statuses.History(t), static s => Assert.DoesNotContain("hunter2", s.Error ?? string.Empty, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_fatal_error_shows_the_clients_own_reason_and_logs_its_cause()
    {
        var handler = new RecordingHandler();
        await using var h = Create(handlers: [handler]);
        var cause = new IOException(Secret);
        h.Factory.BeforeCreate = (_, _) => throw new TenantFatalException(TenantFatalReason.NotPaired, "No paired device; pair one first.", cause);
        var t = Id("tenant1");

        await h.Coordinator.StartAsync(t).WithTimeout();

        var status = await h.Statuses.WaitForStateAsync(t, TenantState.Error);
        Assert.Equal("No paired device; pair one first.", status.Error); // the client's public reason, as it wrote it
        await handler.WaitForCountAsync(t, 1);
        Assert.Equal("No paired device; pair one first.", Assert.IsType<TenantFaultedEvent>(Assert.Single(handler.Events(t))).Error);
        var line = Assert.Single(h.Logs.GetSnapshot(), r => r.Id.Id == MultiTenantEventIds.TenantFaulted);
        Assert.Same(cause, line.Exception?.InnerException);
    }

    [Fact]
    public void Error_ids_are_eight_random_hex_digits()
    {
        var ids = Enumerable.Range(0, 1_000).Select(static _ => TenantErrorReference.NewId()).ToHashSet();
        Assert.Equal(1_000, ids.Count);
        Assert.All(ids, static id => Assert.Matches("^[0-9a-f]{8}$", id));
        Assert.Equal("connect failed; error id 0badf00d in the log (event 1004)", TenantErrorReference.Describe("connect failed", "0badf00d", 1004));
        Assert.Throws<ArgumentException>(() => TenantErrorReference.Describe("", "0badf00d", 1004));
    }

    /// <summary>Asserts the shown text is the fixed reason with an error id, holds nothing of the exception, and returns the id.</summary>
    private static string AssertReference(string? shown, string reason, int eventId)
    {
        Assert.NotNull(shown);
        Assert.DoesNotContain("hunter2", shown, StringComparison.Ordinal);
        Assert.DoesNotContain("db.internal", shown, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", shown, StringComparison.Ordinal);
        var match = ErrorText().Match(shown);
        Assert.True(match.Success, shown);
        Assert.Equal(reason, match.Groups["reason"].Value);
        Assert.Equal(eventId.ToString(System.Globalization.CultureInfo.InvariantCulture), match.Groups["event"].Value);
        return match.Groups["id"].Value;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^(?<reason>[^;]+); error id (?<id>[0-9a-f]{8}) in the log \(event (?<event>\d+)\)$")]
    private static partial System.Text.RegularExpressions.Regex ErrorText();

    /// <summary>An exception of a <c>MultiTenant.*</c> namespace, as the library's own types are: its text is not shown either.</summary>
    private sealed class LibraryFailure(string message) : Exception(message);
}
