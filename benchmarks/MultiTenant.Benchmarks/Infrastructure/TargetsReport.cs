using System.Globalization;
using System.Text;
using BenchmarkDotNet.Reports;

namespace MultiTenant.Benchmarks.Infrastructure;

/// <summary>
/// Checks the issue's targets against one run (ratios of medians taken within the run, as the machine is shared and noisy), prints the
/// verdicts and writes them next to BenchmarkDotNet's reports as <c>MultiTenant-targets.md</c>.
/// </summary>
internal static class TargetsReport
{
    public static void Write(Summary[] summaries)
    {
        var reports = summaries.SelectMany(static s => s.Reports).Where(static r => r.Success && r.ResultStatistics is not null).ToArray();
        var rows = new List<string>();

        var routing = Find(reports, typeof(SingleTenantRoutingBenchmark), nameof(SingleTenantRoutingBenchmark.Bare_bounded_channel));
        foreach (var method in new[] { nameof(SingleTenantRoutingBenchmark.TenantEventQueue_to_every_handler), nameof(SingleTenantRoutingBenchmark.TenantEventQueue_with_metrics_collected) })
        {
            if (routing is not null && Find(reports, typeof(SingleTenantRoutingBenchmark), method) is { } ours)
            {
                double ratio = Median(ours) / Median(routing);
                rows.Add(Row($"1. routing cost, {method}", $"≤ 1.5× bare channel", $"{ratio:0.00}× ({Median(ours):0.0} ns vs {Median(routing):0.0} ns per event)", ratio <= 1.5));
                long? bytes = ours.GcStats.GetBytesAllocatedPerOperation(ours.BenchmarkCase);
                rows.Add(Row($"1. allocation, {method}", "0 B per event", bytes is { } b ? $"{b} B per event" : "not measured", bytes == 0));
            }
        }

        foreach (var baseline in FindAll(reports, typeof(ManyTenantsThroughputBenchmark), nameof(ManyTenantsThroughputBenchmark.Per_event_task_dispatch)))
        {
            var tenants = baseline.BenchmarkCase.Parameters.Items[0].Value;
            var ours = FindAll(reports, typeof(ManyTenantsThroughputBenchmark), nameof(ManyTenantsThroughputBenchmark.TenantEventQueue_per_tenant))
                .FirstOrDefault(r => Equals(r.BenchmarkCase.Parameters.Items[0].Value, tenants));
            if (ours is null)
            {
                continue;
            }

            double speedup = Median(baseline) / Median(ours);
            double oursOutOfOrder = Metric(ours, ReportedMetrics.OutOfOrder) ?? double.NaN;
            double baselineOutOfOrder = Metric(baseline, ReportedMetrics.OutOfOrder) ?? double.NaN;
            rows.Add(Row(
                $"2. many tenants, {tenants:N0} tenants",
                "≥ 5× per-event-task throughput, order kept",
                $"{speedup:0.00}× ({1e9 / Median(ours):N0} vs {1e9 / Median(baseline):N0} events/s); out of order: {oursOutOfOrder:0.###}% vs baseline {baselineOutOfOrder:0.###}%",
                speedup >= 5 && oursOutOfOrder == 0));
        }

        if (Find(reports, typeof(IdleTenantMemoryBenchmark), nameof(IdleTenantMemoryBenchmark.Coordinator_idle_tenants)) is { } idle
            && Metric(idle, ReportedMetrics.RetainedPerTenant) is { } perTenant)
        {
            var bare = Find(reports, typeof(IdleTenantMemoryBenchmark), nameof(IdleTenantMemoryBenchmark.Bare_channel_and_loop_per_tenant));
            double? barePerTenant = bare is null ? null : Metric(bare, ReportedMetrics.RetainedPerTenant);
            rows.Add(Row(
                $"3. idle memory, {idle.BenchmarkCase.Parameters.Items[0].Value:N0} tenants",
                "≤ 4 KB (4,096 B) per idle tenant",
                $"{perTenant:N0} B per tenant (bare channel + loop: {barePerTenant:N0} B)",
                perTenant <= 4096));
        }

        if (Find(reports, typeof(TenantStartupBenchmark), nameof(TenantStartupBenchmark.Coordinator_start_until_connected)) is { } starts)
        {
            var bare = Find(reports, typeof(TenantStartupBenchmark), nameof(TenantStartupBenchmark.Bare_tasks_start_until_connected));
            double seconds = Median(starts) / 1e9;
            rows.Add(Row(
                $"4. control plane, {starts.BenchmarkCase.Parameters.Items[0].Value:N0} starts",
                "≤ 5 s until all connected",
                $"{seconds:0.000} s (bare tasks: {(bare is null ? double.NaN : Median(bare) / 1e9):0.000} s)",
                seconds <= 5));
        }

        if (Find(reports, typeof(LeaseRenewalBenchmark), nameof(LeaseRenewalBenchmark.One_statement_per_host)) is { } renewal)
        {
            var perLease = Find(reports, typeof(LeaseRenewalBenchmark), nameof(LeaseRenewalBenchmark.One_statement_per_lease));
            rows.Add(Row(
                $"4. control plane, {renewal.BenchmarkCase.Parameters.Items[0].Value:N0} lease renewals by one host",
                "no target set; the fleet renews every 3 s by default",
                $"{Median(renewal) / 1e6:N1} ms in one statement (one statement per lease, pipelined: {(perLease is null ? double.NaN : Median(perLease) / 1e6):N1} ms)",
                null));
        }

        var text = new StringBuilder()
            .AppendLine("| target | goal | measured (same run) | met |")
            .AppendLine("|---|---|---|---|");
        foreach (var row in rows)
        {
            text.AppendLine(row);
        }

        Console.WriteLine();
        Console.WriteLine("// * MultiTenant targets *");
        Console.WriteLine(text.ToString());
        var folder = summaries[0].ResultsDirectoryPath;
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "MultiTenant-targets.md"), "# MultiTenant benchmark targets\n\n" + text);
    }

    private static string Row(string target, string goal, string measured, bool? met) =>
        string.Create(CultureInfo.InvariantCulture, $"| {target} | {goal} | {measured} | {(met switch { true => "yes", false => "**no**", null => "n/a" })} |");

    // Medians, not means: on a shared machine one slow iteration should not decide a verdict.
    private static double Median(BenchmarkReport report) => report.ResultStatistics!.Median;

    private static double? Metric(BenchmarkReport report, MetricKind kind) =>
        report.Metrics.TryGetValue(kind.Id, out var metric) ? metric.Value : null;

    private static BenchmarkReport? Find(BenchmarkReport[] reports, Type type, string method) => FindAll(reports, type, method).FirstOrDefault();

    private static IEnumerable<BenchmarkReport> FindAll(BenchmarkReport[] reports, Type type, string method) =>
        reports.Where(r => r.BenchmarkCase.Descriptor.Type == type && r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method);
}
