using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Media;

namespace MultiTenant.CloudApi.Tests;

/// <summary>Media upload and download: the multipart shape at the fake Graph, Meta's limits before any Graph call, integrity checks, the store.</summary>
public sealed class MediaTests : IAsyncLifetime
{
    private const string Phone = "106540352242922";
    private const string Token = "EAAGtoken-tenant-a-0001";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "mt-media-" + Guid.NewGuid().ToString("N"));
    private FakeGraphApi _graph = null!;
    private CloudApiTestHost _host = null!;
    private TenantId _tenant;

    public async Task InitializeAsync()
    {
        _graph = await FakeGraphApi.StartAsync();
        _host = await CloudApiTestHost.StartAsync(_graph, tenants: t => t.UseFileSystemMediaStore(o => o.RootPath = _root));
        _tenant = await _host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _graph.DisposeAsync();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task An_upload_is_the_documented_multipart_form_with_the_file_streamed()
    {
        byte[] jpeg = RandomNumberGenerator.GetBytes(20_000);
        var media = _host.Services.GetRequiredService<ICloudApiMedia>();

        string id = await media.UploadAsync(_tenant, new MemoryStream(jpeg), "image/jpeg", "cross-trainers-summer-sale.jpg");

        var upload = Assert.Single(_graph.MediaUploads);
        Assert.Equal(upload.MediaId, id);
        Assert.Equal("/v21.0/" + Phone + "/media", upload.Path);
        Assert.Equal("Bearer " + Token, upload.Authorization);
        Assert.StartsWith("multipart/form-data; boundary=", upload.ContentType, StringComparison.Ordinal);
        Assert.NotNull(upload.ContentLength); // a seekable source: the length is announced, not chunked
        Assert.Collection(
            upload.Parts,
            p => Assert.Equal(("messaging_product", (string?)null, "whatsapp"), (p.Name, p.FileName, p.Text)),
            p => Assert.Equal(("type", (string?)null, "image/jpeg"), (p.Name, p.FileName, p.Text)),
            p =>
            {
                Assert.Equal(("file", "cross-trainers-summer-sale.jpg", "image/jpeg"), (p.Name, p.FileName, p.ContentType));
                Assert.Equal(jpeg.Length, p.Length);
                Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(jpeg)), p.Sha256);
            });
    }

    [Theory]
    [InlineData("image/jpeg", 5 * 1024 * 1024 + 1, MediaRejectionReason.TooLarge)]
    [InlineData("image/png", 5 * 1024 * 1024 + 1, MediaRejectionReason.TooLarge)]
    [InlineData("audio/ogg; codecs=opus", 16 * 1024 * 1024 + 1, MediaRejectionReason.TooLarge)]
    [InlineData("video/mp4", 16 * 1024 * 1024 + 1, MediaRejectionReason.TooLarge)]
    [InlineData("video/3gpp", 16 * 1024 * 1024 + 1, MediaRejectionReason.TooLarge)]
    [InlineData("application/pdf", 100 * 1024 * 1024 + 1, MediaRejectionReason.TooLarge)]
    [InlineData("image/webp", 500 * 1024 + 1, MediaRejectionReason.TooLarge)]
    [InlineData("image/gif", 10, MediaRejectionReason.UnsupportedType)]
    [InlineData("application/zip", 10, MediaRejectionReason.UnsupportedType)]
    [InlineData("", 10, MediaRejectionReason.UnsupportedType)]
    [InlineData("image/jpeg", 0, MediaRejectionReason.Empty)]
    public async Task Limits_are_checked_before_anything_is_read_or_sent(string contentType, long length, MediaRejectionReason reason)
    {
        var media = _host.Services.GetRequiredService<ICloudApiMedia>();

        var error = await Assert.ThrowsAsync<MediaRejectedException>(() => media.UploadAsync(_tenant, new UnreadableStream(), contentType, length: length));

        Assert.Equal(reason, error.Reason);
        Assert.Empty(_graph.Requests);
    }

    [Theory]
    [InlineData("image/jpeg", 5 * 1024 * 1024 + 1, HttpStatusCode.RequestEntityTooLarge)]
    [InlineData("image/gif", 100, HttpStatusCode.UnsupportedMediaType)]
    [InlineData("image/jpeg", 0, HttpStatusCode.BadRequest)]
    public async Task The_api_answers_limits_with_problems_before_any_graph_call(string contentType, int length, HttpStatusCode status)
    {
        using var body = new ByteArrayContent(new byte[length]);
        body.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);

        using var response = await _host.Http.PostAsync("/api/tenants/tenant-a/media", body);

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(_graph.Requests);
    }

    [Fact]
    public async Task A_static_sticker_over_100_KB_is_refused_and_an_animated_one_of_300_KB_is_uploaded()
    {
        using var still = new ByteArrayContent(Webp(animated: false, 100 * 1024 + 1));
        still.Headers.ContentType = new MediaTypeHeaderValue("image/webp");
        using var animated = new ByteArrayContent(Webp(animated: true, 300 * 1024));
        animated.Headers.ContentType = new MediaTypeHeaderValue("image/webp");

        using var refused = await _host.Http.PostAsync("/api/tenants/tenant-a/media", still);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
        Assert.Empty(_graph.MediaUploads);

        using var accepted = await _host.Http.PostAsync("/api/tenants/tenant-a/media", animated);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal(300 * 1024, Assert.Single(_graph.MediaUploads).Parts[^1].Length);
    }

    [Fact]
    public async Task A_multipart_upload_through_the_api_is_forwarded_with_its_type_and_file_name()
    {
        byte[] pdf = RandomNumberGenerator.GetBytes(64 * 1024);
        using var form = new MultipartFormDataContent
        {
            { new StringContent("whatsapp"), "messaging_product" },
            { new ByteArrayContent(pdf) { Headers = { ContentType = new MediaTypeHeaderValue("application/pdf") } }, "file", "invoice-42.pdf" },
        };

        using var response = await _host.Http.PostAsync("/api/tenants/tenant-a/media", form);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var upload = Assert.Single(_graph.MediaUploads);
        Assert.Equal(upload.MediaId, json.RootElement.GetProperty("id").GetString());
        var file = upload.Parts[^1];
        Assert.Equal(("invoice-42.pdf", "application/pdf", (long)pdf.Length), (file.FileName, file.ContentType, file.Length));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(pdf)), file.Sha256);
    }

    [Fact]
    public async Task A_multipart_part_of_an_unsupported_type_is_415_before_any_graph_call()
    {
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(new byte[10]) { Headers = { ContentType = new MediaTypeHeaderValue("application/zip") } }, "file", "a.zip" },
        };

        using var response = await _host.Http.PostAsync("/api/tenants/tenant-a/media", form);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Empty(_graph.Requests);
    }

    [Fact]
    public async Task A_download_streams_the_bytes_with_the_announced_type()
    {
        string sha = _graph.AddMedia("1037543291543636", Phone, 300_000, "image/jpeg");

        using var response = await _host.Http.GetAsync("/api/tenants/tenant-a/media/1037543291543636", HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(300_000, response.Content.Headers.ContentLength);
        Assert.Equal(sha, Convert.ToHexStringLower(SHA256.HashData(await response.Content.ReadAsStreamAsync())));
        Assert.Contains(_graph.Requests, r => r.Path == "/v21.0/1037543291543636" && r.Query == "?phone_number_id=" + Phone);
        Assert.Contains(_graph.Requests, r => r.Path == "/download/1037543291543636" && r.Authorization == "Bearer " + Token);
    }

    [Fact]
    public async Task A_download_into_the_store_lands_under_the_tenant_with_its_hash()
    {
        string sha = _graph.AddMedia("1037543291543637", Phone, 123_456, "application/pdf");

        using var response = await _host.Http.GetAsync("/api/tenants/tenant-a/media/1037543291543637?store=true");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(sha, json.RootElement.GetProperty("sha256").GetString());
        Assert.Equal(123_456, json.RootElement.GetProperty("file_size").GetInt64());
        string path = Path.Combine(_root, "tenant-a", "1037543291543637");
        Assert.Equal(sha, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))));
        Assert.Single(Directory.GetFiles(Path.Combine(_root, "tenant-a"))); // no temporary file left
    }

    [Fact]
    public async Task A_download_whose_hash_differs_from_the_announced_one_is_not_stored_and_is_a_502()
    {
        _graph.AddMedia("1037543291543638", Phone, 50_000, "image/png", announcedSha256: new string('a', 64));
        var media = _host.Services.GetRequiredService<ICloudApiMedia>();

        using var response = await _host.Http.GetAsync("/api/tenants/tenant-a/media/1037543291543638?store=true");
        await using var download = await media.DownloadAsync(_tenant, "1037543291543638");
        var error = await Assert.ThrowsAsync<MediaRejectedException>(() => download.Content.CopyToAsync(Stream.Null));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(MediaRejectionReason.IntegrityMismatch, error.Reason);
        Assert.Empty(Directory.Exists(Path.Combine(_root, "tenant-a")) ? Directory.GetFiles(Path.Combine(_root, "tenant-a")) : []);
    }

    [Fact]
    public async Task A_streamed_download_whose_hash_differs_is_cut_so_the_caller_never_gets_a_complete_response()
    {
        _graph.AddMedia("1037543291543639", Phone, 200_000, "image/png", announcedSha256: new string('b', 64));

        using var response = await _host.Http.GetAsync("/api/tenants/tenant-a/media/1037543291543639", HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStreamAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // the headers went out before the last byte could be checked
        await Assert.ThrowsAnyAsync<Exception>(() => body.CopyToAsync(Stream.Null));
    }

    [Fact]
    public async Task An_unknown_media_id_is_404_and_an_invalid_one_400()
    {
        using var unknown = await _host.Http.GetAsync("/api/tenants/tenant-a/media/999");
        using var invalid = await _host.Http.GetAsync("/api/tenants/tenant-a/media/.hidden");

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
    }

    [Fact]
    public async Task A_tenant_without_credentials_is_404()
    {
        using var body = new ByteArrayContent(new byte[10]) { Headers = { ContentType = new MediaTypeHeaderValue("image/jpeg") } };

        using var response = await _host.Http.PostAsync("/api/tenants/tenant-zz/media", body);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(_graph.Requests);
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData(".hidden")]
    [InlineData("a/b")]
    [InlineData("")]
    public async Task The_file_system_store_refuses_unsafe_names(string name)
    {
        var store = new FileSystemMediaStore(Microsoft.Extensions.Options.Options.Create(new FileSystemMediaStoreOptions { RootPath = _root }));

        await Assert.ThrowsAsync<ArgumentException>(() => store.SaveAsync(_tenant, name, new MemoryStream([1]), null));
    }

    [Fact]
    public async Task The_file_system_store_partitions_by_tenant_and_leaves_nothing_when_the_source_fails()
    {
        var store = new FileSystemMediaStore(Microsoft.Extensions.Options.Options.Create(new FileSystemMediaStoreOptions { RootPath = _root }));
        var other = TenantId.Parse("tenant-b");

        var saved = await store.SaveAsync(_tenant, "m1", new MemoryStream([1, 2, 3]), "image/png");
        await Assert.ThrowsAsync<IOException>(() => store.SaveAsync(_tenant, "m2", new FailingStream(), null));

        Assert.Equal(Path.Combine(_root, "tenant-a", "m1"), saved.Location);
        Assert.Equal(3, saved.Length);
        Assert.Null(await store.OpenReadAsync(other, "m1"));
        await using (var read = await store.OpenReadAsync(_tenant, "m1"))
        {
            Assert.NotNull(read);
        }

        Assert.Equal(["m1"], Directory.GetFiles(Path.Combine(_root, "tenant-a")).Select(Path.GetFileName));
        Assert.True(await store.DeleteAsync(_tenant, "m1"));
        Assert.False(await store.DeleteAsync(_tenant, "m1"));
    }

    /// <summary>A WebP file's start (RIFF, WEBP, VP8X with or without the animation flag), padded to <paramref name="length"/>.</summary>
    private static byte[] Webp(bool animated, int length)
    {
        byte[] bytes = new byte[length];
        "RIFF"u8.CopyTo(bytes);
        "WEBP"u8.CopyTo(bytes.AsSpan(8));
        "VP8X"u8.CopyTo(bytes.AsSpan(12));
        bytes[20] = animated ? (byte)0x02 : (byte)0x00;
        return bytes;
    }

    private sealed class UnreadableStream : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new InvalidOperationException("The limits must be checked before the stream is read.");

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private sealed class FailingStream : Stream
    {
        private int _reads;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) =>
            _reads++ == 0 ? count : throw new IOException("The source failed half-way.");

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
