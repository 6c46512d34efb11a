using System.Globalization;
using BenchmarkDotNet.Analysers;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Validators;

namespace MultiTenant.Benchmarks.Infrastructure;

/// <summary>
/// Figures a benchmark measures itself (bytes retained per idle tenant, events seen out of order), carried from the benchmark
/// process to the host process through small files, and shown as summary columns (and JSON metrics) by
/// <see cref="ReportedMetricsDiagnoser"/>.
/// </summary>
/// <remarks>
/// BenchmarkDotNet runs each benchmark in a child process; its diagnosers run in the host. The child inherits the host's
/// environment, so both agree on the folder through <see cref="FolderVariable"/> (the host sets it before the run).
/// A benchmark appends one value per measurement; the column shows their median.
/// </remarks>
internal static class ReportedMetrics
{
    public const string FolderVariable = "MULTITENANT_BENCHMARK_METRICS";

    public static readonly MetricKind RetainedPerTenant = new(
        "RetainedPerTenant", "Retained B/tenant", "Managed bytes retained per idle tenant: GC.GetTotalMemory(true) after minus before, divided by tenants", UnitType.Dimensionless, "B", theGreaterTheBetter: false, format: "N0");

    public static readonly MetricKind OutOfOrder = new(
        "OutOfOrder", "Out of order", "Events a handler saw before an earlier event of the same tenant, in % of all events handled", UnitType.Dimensionless, "%", theGreaterTheBetter: false, format: "0.###'%'");

    public static readonly MetricKind AllConnectedAfter = new(
        "AllConnectedAfter", "All connected (s)", "Seconds (simulated, on fake time) until every tenant of a connect storm was connected; 600 = gave up", UnitType.Dimensionless, "s", theGreaterTheBetter: false, format: "0.0");

    public static readonly MetricKind ConnectFailures = new(
        "ConnectFailures", "Failed connects", "Connects the simulated backend failed during the storm (it fails when overloaded)", UnitType.Dimensionless, "", theGreaterTheBetter: false, format: "N0");

    public static readonly MetricKind[] All = [RetainedPerTenant, OutOfOrder, AllConnectedAfter, ConnectFailures];

    public static string Folder =>
        Environment.GetEnvironmentVariable(FolderVariable) is { Length: > 0 } folder
            ? folder
            : Path.Combine(Path.GetTempPath(), "multitenant-benchmark-metrics");

    /// <summary>Benchmark side: records one measurement of <paramref name="kind"/> for the running case.</summary>
    public static void Report(MetricKind kind, Type benchmark, string method, string parameters, double value)
    {
        Directory.CreateDirectory(Folder);
        File.AppendAllText(PathOf(kind, benchmark.Name, method, parameters), value.ToString("R", CultureInfo.InvariantCulture) + "\n");
    }

    /// <summary>Host side: the median of the measurements recorded for <paramref name="benchmarkCase"/>, when there are any.</summary>
    public static double? ReadMedian(MetricKind kind, BenchmarkCase benchmarkCase)
    {
        var path = PathOf(kind, benchmarkCase);
        if (!File.Exists(path))
        {
            return null;
        }

        var values = File.ReadAllLines(path)
            .Where(static line => line.Length > 0)
            .Select(static line => double.Parse(line, CultureInfo.InvariantCulture))
            .Order()
            .ToArray();
        if (values.Length == 0)
        {
            return null;
        }

        return values.Length % 2 == 1 ? values[values.Length / 2] : (values[(values.Length / 2) - 1] + values[values.Length / 2]) / 2;
    }

    /// <summary>Host side: forgets what an earlier run recorded for <paramref name="benchmarkCase"/>.</summary>
    public static void Clear(BenchmarkCase benchmarkCase)
    {
        Directory.CreateDirectory(Folder);
        foreach (var kind in All)
        {
            File.Delete(PathOf(kind, benchmarkCase));
        }
    }

    private static string PathOf(MetricKind kind, BenchmarkCase benchmarkCase) =>
        PathOf(kind, benchmarkCase.Descriptor.Type.Name, benchmarkCase.Descriptor.WorkloadMethod.Name, ParametersOf(benchmarkCase));

    private static string ParametersOf(BenchmarkCase benchmarkCase) =>
        string.Join("-", benchmarkCase.Parameters.Items.Select(static p => Convert.ToString(p.Value, CultureInfo.InvariantCulture)));

    private static string PathOf(MetricKind kind, string type, string method, string parameters) =>
        Path.Combine(Folder, $"{type}.{method}.{parameters}.{kind.Id}.txt");
}

internal sealed class MetricKind(string id, string displayName, string legend, UnitType unitType, string unit, bool theGreaterTheBetter, string format)
    : IMetricDescriptor
{
    public string Id => id;

    public string DisplayName => displayName;

    public string Legend => legend;

    public string NumberFormat => format;

    public UnitType UnitType => unitType;

    public string Unit => unit;

    public bool TheGreaterTheBetter => theGreaterTheBetter;

    public int PriorityInCategory => 0;

    public bool GetIsAvailable(Metric metric) => true;
}

/// <summary>Turns what the benchmarks recorded through <see cref="ReportedMetrics"/> into summary columns.</summary>
internal sealed class ReportedMetricsDiagnoser : IDiagnoser
{
    public static readonly ReportedMetricsDiagnoser Instance = new();

    public IEnumerable<string> Ids => ["ReportedMetrics"];

    public IEnumerable<IExporter> Exporters => [];

    public IEnumerable<IAnalyser> Analysers => [];

    public RunMode GetRunMode(BenchmarkCase benchmarkCase) => RunMode.NoOverhead;

    public void Handle(HostSignal signal, DiagnoserActionParameters parameters)
    {
        if (signal == HostSignal.BeforeProcessStart)
        {
            ReportedMetrics.Clear(parameters.BenchmarkCase);
        }
    }

    public IEnumerable<Metric> ProcessResults(DiagnoserResults results)
    {
        foreach (var kind in ReportedMetrics.All)
        {
            if (ReportedMetrics.ReadMedian(kind, results.BenchmarkCase) is { } value)
            {
                yield return new Metric(kind, value);
            }
        }
    }

    public void DisplayResults(ILogger logger)
    {
    }

    public IEnumerable<ValidationError> Validate(ValidationParameters validationParameters) => [];
}
