using System.Globalization;
using MultiTenant.Clients;

namespace MultiTenant.CloudApi.Media;

/// <summary>
/// The media types and sizes the Cloud API accepts (Meta's "Supported media types"): images JPEG/PNG 5 MB; audio AAC, AMR, MP3, MP4
/// audio, OGG (Opus) 16 MB; video MP4/3GPP 16 MB; documents (text, PDF, Word, Excel, PowerPoint) 100 MB; stickers WebP, 100 KB static
/// and 500 KB animated. MB and KB are binary (1,048,576 and 1,024 bytes).
/// </summary>
internal static class MediaLimits
{
    public const long KiB = 1024;
    public const long MiB = 1024 * 1024;
    public const long StaticStickerMax = 100 * KiB;
    public const long AnimatedStickerMax = 500 * KiB;

    /// <summary>The largest file of any kind (a document): 100 MB.</summary>
    public const long MaxFileSize = 100 * MiB;

    /// <summary>Enough of a WebP file's start to tell an animated sticker from a static one.</summary>
    public const int WebpHeaderLength = 21;

    private static readonly Dictionary<string, (MediaKind Kind, long Max)> Types = new(StringComparer.OrdinalIgnoreCase)
    {
        ["image/jpeg"] = (MediaKind.Image, 5 * MiB),
        ["image/png"] = (MediaKind.Image, 5 * MiB),
        ["image/webp"] = (MediaKind.Sticker, AnimatedStickerMax),
        ["audio/aac"] = (MediaKind.Audio, 16 * MiB),
        ["audio/amr"] = (MediaKind.Audio, 16 * MiB),
        ["audio/mpeg"] = (MediaKind.Audio, 16 * MiB),
        ["audio/mp4"] = (MediaKind.Audio, 16 * MiB),
        ["audio/ogg"] = (MediaKind.Audio, 16 * MiB),
        ["video/mp4"] = (MediaKind.Video, 16 * MiB),
        ["video/3gpp"] = (MediaKind.Video, 16 * MiB),
        ["text/plain"] = (MediaKind.Document, MaxFileSize),
        ["application/pdf"] = (MediaKind.Document, MaxFileSize),
        ["application/msword"] = (MediaKind.Document, MaxFileSize),
        ["application/vnd.openxmlformats-officedocument.wordprocessingml.document"] = (MediaKind.Document, MaxFileSize),
        ["application/vnd.ms-excel"] = (MediaKind.Document, MaxFileSize),
        ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"] = (MediaKind.Document, MaxFileSize),
        ["application/vnd.ms-powerpoint"] = (MediaKind.Document, MaxFileSize),
        ["application/vnd.openxmlformats-officedocument.presentationml.presentation"] = (MediaKind.Document, MaxFileSize),
    };

    /// <summary>
    /// The kind and size limit of <paramref name="contentType"/> (parameters such as <c>codecs=opus</c> are kept in
    /// the returned MIME type but ignored for the lookup). WebP gets the animated sticker limit; <see cref="StickerLimit"/> narrows it.
    /// </summary>
    /// <exception cref="MediaRejectedException">The type is not supported (<see cref="MediaRejectionReason.UnsupportedType"/>).</exception>
    public static (MediaKind Kind, long Max, string MimeType) Resolve(string? contentType)
    {
        string mimeType = contentType?.Trim() ?? string.Empty;
        int semicolon = mimeType.IndexOf(';', StringComparison.Ordinal);
        string essence = (semicolon >= 0 ? mimeType[..semicolon] : mimeType).Trim();
        if (essence.Length == 0 || !Types.TryGetValue(essence, out var limit))
        {
            throw new MediaRejectedException(
                MediaRejectionReason.UnsupportedType,
                "The media type " + (essence.Length == 0 ? "is missing" : "'" + Truncate(essence) + "' is not supported")
                + ". Supported: " + string.Join(", ", Types.Keys) + ".");
        }

        return (limit.Kind, limit.Max, semicolon >= 0 ? essence.ToLowerInvariant() + mimeType[semicolon..] : essence.ToLowerInvariant());
    }

    /// <summary>The sticker limit from the start of a WebP file: 500 KB when its VP8X header has the animation flag, else 100 KB.</summary>
    public static long StickerLimit(ReadOnlySpan<byte> header) =>
        header.Length >= WebpHeaderLength && header[..4].SequenceEqual("RIFF"u8) && header[8..12].SequenceEqual("WEBP"u8)
            && header[12..16].SequenceEqual("VP8X"u8) && (header[20] & 0x02) != 0
            ? AnimatedStickerMax
            : StaticStickerMax;

    /// <summary>Throws <see cref="MediaRejectedException"/> when <paramref name="length"/> is known and outside 1..<paramref name="max"/>.</summary>
    public static void CheckLength(long? length, long max, MediaKind kind)
    {
        if (length == 0)
        {
            throw new MediaRejectedException(MediaRejectionReason.Empty, "The media file is empty.");
        }

        if (length > max)
        {
            throw TooLarge(max, kind);
        }
    }

    public static MediaRejectedException TooLarge(long max, MediaKind kind) =>
        new(MediaRejectionReason.TooLarge, $"The {kind.ToString().ToLowerInvariant()} is larger than the Cloud API allows ({Describe(max)}).", max);

    public static string Describe(long bytes) =>
        bytes >= MiB && bytes % MiB == 0 ? (bytes / MiB).ToString(CultureInfo.InvariantCulture) + " MB (" + bytes.ToString("N0", CultureInfo.InvariantCulture) + " bytes)"
        : (bytes / KiB).ToString(CultureInfo.InvariantCulture) + " KB (" + bytes.ToString("N0", CultureInfo.InvariantCulture) + " bytes)";

    private static string Truncate(string text) => text.Length <= 100 ? text : text[..100] + "…";
}
