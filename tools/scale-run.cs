// The scale run (issue 12): runs the sample server (embedded store, simulated client) with N tenants and measures it through its API.
//
//   dotnet build samples/MultiTenant.Sample -c Release
//   dotnet run tools/scale-run.cs -- 1000 10000 100000
//
// For each N, on a fresh sample process (loopback, API key, Warning logs, the API's rate limits off): RSS before the starts; N starts through
// POST /api/tenants by 16 concurrent callers (starts/s); the time until /ready says all N are connected (polled every 200 ms); then, with the simulator
// offering 10,000 messages/s in total (Simulator:MessagesPerSecond = 10,000 / N per tenant), the messages handled per second and the
// process CPU (of one core) over 10 s, the RSS and RSS per tenant, and the median latency of GET /api/tenants?limit=100 (first page)
// and of GET /api/tenants (the default page, 1,000 tenants) over 20 calls each. Prints one Markdown table row per N.
// Options (environment): SCALE_CALLERS (16), SCALE_OFFERED (10000), SCALE_CONNECT_MIN / SCALE_CONNECT_MAX (the sample's 0.2 / 1.5 s),
// SCALE_SAMPLE (the sample's Release dll). Every wait is bounded; the sample is killed on exit.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

var inv = CultureInfo.InvariantCulture;
string root = AppContext.GetData("EntryPointFileDirectoryPath") is string toolDirectory
    ? Path.GetFullPath(Path.Combine(toolDirectory, ".."))
    : Directory.GetCurrentDirectory(); // run from the repository root
string dll = Environment.GetEnvironmentVariable("SCALE_SAMPLE") ?? Path.Combine(root, "samples/MultiTenant.Sample/bin/Release/net10.0/MultiTenant.Sample.dll");
int callers = int.Parse(Environment.GetEnvironmentVariable("SCALE_CALLERS") ?? "16", inv);
double offered = double.Parse(Environment.GetEnvironmentVariable("SCALE_OFFERED") ?? "10000", inv);
string connectMin = Environment.GetEnvironmentVariable("SCALE_CONNECT_MIN") ?? "00:00:00.200";
string connectMax = Environment.GetEnvironmentVariable("SCALE_CONNECT_MAX") ?? "00:00:01.500";
int[] sizes = args.Length > 0 ? args.Select(a => int.Parse(a, inv)).ToArray() : [1_000, 10_000, 100_000];
if (!File.Exists(dll))
{
    Console.Error.WriteLine($"{dll} not found: run dotnet build samples/MultiTenant.Sample -c Release first");
    return 2;
}

Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; load average {File.ReadAllText("/proc/loadavg").Trim()}");
Console.WriteLine($"callers {callers}, offered {offered:N0} messages/s, connects {connectMin}–{connectMax}");
Console.WriteLine();
Console.WriteLine("| tenants | RSS | per tenant | starts/s through the API | all connected after | messages handled (offered 10,000/s) | CPU (of one core) | list page (limit 100) | default page (1,000) |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
foreach (int n in sizes)
{
    Console.WriteLine(await RunAsync(n));
}

return 0;

async Task<string> RunAsync(int tenants)
{
    int port = FreePort();
    string key = "wt_scale_" + Guid.NewGuid().ToString("N");
    var start = new ProcessStartInfo("dotnet", [dll]) { RedirectStandardOutput = true, RedirectStandardError = true };
    start.Environment["HTTP_PORT"] = port.ToString(inv);
    start.Environment["API_KEY"] = key;
    start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
    start.Environment["Logging__LogLevel__Default"] = "Warning";
    start.Environment["WhatsAppTenants__Api__RateLimits__Enabled"] = "false"; // measures capacity: the API's own rate limits are off
    start.Environment["Simulator__MessagesPerSecond"] = (offered / tenants).ToString("R", inv);
    start.Environment["Simulator__ConnectDelayMin"] = connectMin;
    start.Environment["Simulator__ConnectDelayMax"] = connectMax;
    using var process = Process.Start(start)!;
    process.OutputDataReceived += (_, _) => { };
    process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) Console.Error.WriteLine("sample: " + line); };
    process.BeginOutputReadLine();
    process.BeginErrorReadLine();
    using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = callers * 2 })
    {
        BaseAddress = new Uri($"http://127.0.0.1:{port}"),
        Timeout = TimeSpan.FromMinutes(2),
    };
    http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
    try
    {
        await WaitUntilAsync(async () => (await TryGetAsync(http, "/livez")) == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "the sample did not start");
        long rssBefore = Rss(process.Id);

        // Starts: 16 callers, each taking the next id until all are started.
        int next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < tenants)
            {
                using var body = new StringContent($"{{\"business_id\":\"scale{i:D6}\"}}", Encoding.UTF8, "application/json");
                using var response = await http.PostAsync("/api/tenants", body);
                if (response.StatusCode != HttpStatusCode.Created)
                {
                    throw new InvalidOperationException($"start of scale{i:D6}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
            }
        })));
        double startsPerSecond = tenants / clock.Elapsed.TotalSeconds;

        // Polled on /ready (O(1): the coordinator's counts), not /metrics: a scrape renders every labelled tenant's series, and five of
        // them a second took CPU from the very connects this measures (a real Prometheus scrapes every 15-60 s).
        await WaitUntilAsync(async () => await ConnectedAsync(http) >= tenants, TimeSpan.FromMinutes(10), "not all tenants connected");
        double allConnected = clock.Elapsed.TotalSeconds;

        // Steady state: messages handled and CPU over 10 s.
        double handled0 = SumCounter(await MetricsAsync(http), "whatsmeow_tenant_messages_total", "direction=\"in\"");
        var cpu0 = process.TotalProcessorTime;
        var window = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(10));
        double handled1 = SumCounter(await MetricsAsync(http), "whatsmeow_tenant_messages_total", "direction=\"in\"");
        process.Refresh();
        double cpu = (process.TotalProcessorTime - cpu0).TotalSeconds / window.Elapsed.TotalSeconds;
        double eventsPerSecond = (handled1 - handled0) / window.Elapsed.TotalSeconds;
        long rss = Rss(process.Id);

        double page = await MedianLatencyAsync(http, "/api/tenants?limit=100");
        double firstDefault = await MedianLatencyAsync(http, "/api/tenants");
        return string.Create(inv, $"| {tenants:N0} | {rss / 1048576.0:N0} MB | {(rss - rssBefore) / 1024.0 / tenants:N1} KB | {startsPerSecond:N0} | {allConnected:N1} s | {eventsPerSecond:N0}/s | {cpu * 100:N0}% | {page:0.0} ms | {firstDefault:0.0} ms |");
    }
    finally
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }
}

static async Task<double> MedianLatencyAsync(HttpClient http, string path)
{
    var samples = new List<double>();
    for (int i = 0; i < 20; i++)
    {
        var watch = Stopwatch.StartNew();
        using var response = await http.GetAsync(path, HttpCompletionOption.ResponseContentRead);
        response.EnsureSuccessStatusCode();
        samples.Add(watch.Elapsed.TotalMilliseconds);
    }

    samples.Sort();
    return samples[samples.Count / 2];
}

static async Task<string> MetricsAsync(HttpClient http) => await http.GetStringAsync("/metrics");

// {"ready":true,"total":5,"connected":3}; 503 (same body) while no tenant is connected.
static async Task<long> ConnectedAsync(HttpClient http)
{
    using var response = await http.GetAsync("/ready");
    using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    return json.RootElement.TryGetProperty("connected", out var connected) ? connected.GetInt64() : 0;
}

static double SumCounter(string metrics, string name, string label) =>
    metrics.Split('\n').Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal))
        .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)).Sum();

static async Task<HttpStatusCode?> TryGetAsync(HttpClient http, string path)
{
    try
    {
        using var response = await http.GetAsync(path);
        return response.StatusCode;
    }
    catch (HttpRequestException)
    {
        return null;
    }
}

static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string failure)
{
    var deadline = Stopwatch.StartNew();
    while (!await TryAsync(condition))
    {
        if (deadline.Elapsed > timeout)
        {
            throw new TimeoutException(failure);
        }

        await Task.Delay(200);
    }
}

// A poll that fails (a connection reset on a loaded machine) is a "not yet", retried until the deadline.
static async Task<bool> TryAsync(Func<Task<bool>> condition)
{
    try
    {
        return await condition();
    }
    catch (HttpRequestException)
    {
        return false;
    }
}

static long Rss(int pid)
{
    foreach (string line in File.ReadLines($"/proc/{pid}/status"))
    {
        if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
        {
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
    }

    return 0;
}

static int FreePort()
{
    using var socket = new TcpListener(IPAddress.Loopback, 0);
    socket.Start();
    return ((IPEndPoint)socket.LocalEndpoint).Port;
}
