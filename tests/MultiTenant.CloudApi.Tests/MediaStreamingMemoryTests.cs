using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using MultiTenant.CloudApi.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MultiTenant.CloudApi.Tests;

/// <summary>Runs alone: it measures the process's allocations, which tests running in parallel would add to.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurementCollection
{
    public const string Name = "Memory measurement";
}

/// <summary>
/// A 50 MB file through the tenant API both ways (caller → API → fake Graph, fake Graph → API → caller) with flat memory: the bytes
/// allocated in the whole process while it streams (the API, the fake Graph and the test's own client together) stay far below the
/// file's size, so nothing holds the file.
/// </summary>
[Collection(MemoryMeasurementCollection.Name)]
public sealed class MediaStreamingMemoryTests(ITestOutputHelper output) : GraphAndHostTest
{
    private const long FileSize = 50L * 1024 * 1024;
    private const long AllocationBound = 12L * 1024 * 1024;
    private const string Phone = "106540352242922";

    [Fact]
    public async Task A_50_MB_upload_and_download_stream_with_flat_memory()
    {
        await Host.AddTenantAsync(Graph, "tenant-a", Phone, "EAAGtoken-tenant-a-0001");
        string expected = Graph.AddMedia("1037543291543699", Phone, FileSize, "application/pdf", seed: 3);

        // Warm up both paths (JIT, connection pools) with a small file, so the measurement sees the streaming only.
        Graph.AddMedia("1037543291543600", Phone, 100_000, "application/pdf");
        await UploadAsync(100_000);
        await DownloadAsync("1037543291543600");

        long before = GC.GetTotalAllocatedBytes(precise: true);
        long peakBefore = Environment.WorkingSet;
        await UploadAsync(FileSize);
        long upload = GC.GetTotalAllocatedBytes(precise: true) - before;

        before = GC.GetTotalAllocatedBytes(precise: true);
        string downloaded = await DownloadAsync("1037543291543699");
        long download = GC.GetTotalAllocatedBytes(precise: true) - before;
        long workingSetGrowth = Environment.WorkingSet - peakBefore;

        output.WriteLine($"50 MB upload: {upload:N0} bytes allocated; download: {download:N0} bytes allocated; working set grew {workingSetGrowth:N0} bytes.");
        var file = Graph.MediaUploads[^1].Parts[^1];
        Assert.Equal(FileSize, file.Length);
        using (var pattern = new PatternStream(FileSize, 3))
        {
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(pattern)), file.Sha256);
        }

        Assert.Equal(expected, downloaded);
        Assert.InRange(upload, 0, AllocationBound);
        Assert.InRange(download, 0, AllocationBound);
    }

    private async Task UploadAsync(long length)
    {
        using var body = new StreamContent(new PatternStream(length, 3), 81920);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/pdf");
        body.Headers.ContentLength = length;
        using var response = await Host.Http.PostAsync("/api/tenants/tenant-a/media?filename=big.pdf", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private async Task<string> DownloadAsync(string mediaId)
    {
        using var response = await Host.Http.GetAsync("/api/tenants/tenant-a/media/" + mediaId, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var stream = await response.Content.ReadAsStreamAsync();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, read);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
