using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using MultiTenant.Benchmarks.Infrastructure;

namespace MultiTenant.Benchmarks;

/// <summary>
/// Runs the benchmarks. <c>--short</c>: a quick run (under 3 minutes on 2 cores); <c>--in-process</c>: in this process, without
/// BenchmarkDotNet's generated build (for a loaded machine); <c>--dry</c>: each benchmark once, to prove it
/// still runs (CI); neither: the full run. Every other argument goes to BenchmarkDotNet (<c>--filter</c>, <c>--job</c>, ...); without a
/// filter every benchmark runs. Exits non-zero when a benchmark failed or a run was invalid.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var mode = RunMode.Full;
        bool inProcess = false;
        var rest = new List<string>();
        foreach (var arg in args)
        {
            switch (arg)
            {
                case "--short":
                    mode = RunMode.Short;
                    break;
                case "--dry":
                    mode = RunMode.Dry;
                    break;
                case "--in-process":
                    inProcess = true;
                    break;
                default:
                    rest.Add(arg);
                    break;
            }
        }

        bool informational = rest.Exists(static a => a is "--list" or "--help" or "-h" or "-?" or "--version" or "--info");
        if (!rest.Exists(static a => a is "--filter" or "-f") && !informational)
        {
            rest.AddRange(["--filter", "*"]);
        }

        // The benchmark processes report their own figures (bytes per idle tenant, events out of order) through this folder.
        var metricsFolder = Path.Combine(Path.GetTempPath(), "multitenant-benchmarks-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Environment.SetEnvironmentVariable(ReportedMetrics.FolderVariable, metricsFolder);
        try
        {
            bool userChoseJob = rest.Exists(static a => a is "--job" or "-j");
            var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly)
                .Run([.. rest], CreateConfig(mode, userChoseJob, inProcess))
                .ToArray();
            if (informational)
            {
                return 0;
            }

            var problems = FindProblems(summaries);
            if (mode != RunMode.Dry && summaries.Length > 0)
            {
                TargetsReport.Write(summaries);
            }

            foreach (var problem in problems)
            {
                Console.Error.WriteLine("BENCHMARK FAILED: " + problem);
            }

            return problems.Count == 0 ? 0 : 1;
        }
        finally
        {
            if (Directory.Exists(metricsFolder))
            {
                Directory.Delete(metricsFolder, recursive: true);
            }
        }
    }

    private static ManualConfig CreateConfig(RunMode mode, bool userChoseJob, bool inProcess)
    {
        // BenchmarkDotNet's defaults, but with exactly the exporters we commit: GitHub Markdown and full JSON.
        var defaults = DefaultConfig.Instance;
        var config = ManualConfig.CreateEmpty()
            .AddLogger([.. defaults.GetLoggers()])
            .AddColumnProvider([.. defaults.GetColumnProviders()])
            .AddAnalyser([.. defaults.GetAnalysers()])
            .AddValidator([.. defaults.GetValidators()])
            .AddDiagnoser(MemoryDiagnoser.Default, ReportedMetricsDiagnoser.Instance)
            .AddColumn(StatisticColumn.OperationsPerSecond)
            .AddExporter(MarkdownExporter.GitHub, JsonExporter.Full);
        if (!userChoseJob)
        {
            var job = mode switch
            {
                // One launch, one invocation per benchmark, no pilot, warmup or statistics: proves the code still runs.
                RunMode.Dry => Job.Dry.WithId("Dry"),
                // 1 launch, 1 warmup and 7 short measured iterations: the medians of 7 resist a noisy neighbour better than
                // Job.ShortRun's 3 iterations, and the whole run stays under 3 minutes on 2 cores.
                RunMode.Short => Job.ShortRun
                    .WithWarmupCount(1)
                    .WithIterationCount(7)
                    .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(150))
                    .WithId("Short"),
                _ => Job.Default.WithId("Full"),
            };

            // --in-process: the benchmarks run inside this process (BenchmarkDotNet's in-process toolchain) instead of in a project it
            // generates and builds per run, whose build (every referenced project, no shared compiler) exceeded BenchmarkDotNet's
            // 2-minute build timeout at a load average of 45 on 2 cores.
            config.AddJob(inProcess ? job.WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance) : job);
        }

        return config;
    }

    private static List<string> FindProblems(Summary[] summaries)
    {
        var problems = new List<string>();
        if (summaries.Length == 0)
        {
            problems.Add("no benchmark ran (does the filter match any?)");
        }

        foreach (var summary in summaries)
        {
            foreach (var error in summary.ValidationErrors)
            {
                if (error.IsCritical)
                {
                    problems.Add("invalid benchmark: " + error.Message);
                }
            }

            foreach (var benchmarkCase in summary.BenchmarksCases)
            {
                if (!summary.HasReport(benchmarkCase) || !summary[benchmarkCase]!.Success)
                {
                    problems.Add(benchmarkCase.DisplayInfo + " did not complete; see its output above");
                }
            }
        }

        return problems;
    }

    private enum RunMode
    {
        Full,
        Short,
        Dry,
    }
}
