using Microsoft.Extensions.Hosting;
using System.Security.Cryptography;
using SkiaSharp;

namespace SecurePlatform.Profile.Model;

/// <summary>
/// Avatar uploads, decoded and re-encoded: the type is decided from the bytes (magic numbers) and must be the one
/// the request declares; the pixel count is read from the header before anything is decoded (a decompression bomb
/// is refused without allocating its pixels); the first frame (of an animated WebP too) is decoded by Skia, cropped to its centre square,
/// resized to <see cref="Sizes"/> and encoded as PNG. Only those PNGs are kept: metadata (EXIF location, comments)
/// and anything appended to the file (a polyglot's HTML or script) are not carried over, and the original bytes
/// are never stored.
/// </summary>
public static class AvatarImages
{
    public static readonly IReadOnlyList<int> Sizes = [256, 64];

    public const int DefaultSize = 256;

    public const string ContentType = "image/png";

    private const int FirstFrame = 0;

    public static readonly IReadOnlyList<string> AcceptedTypes = ["image/png", "image/jpeg", "image/webp"];

    public sealed record Processed(IReadOnlyDictionary<int, byte[]> Images, string Hash);

    /// <summary>The media type the bytes are, by their signature, or null.</summary>
    public static string? Sniff(ReadOnlySpan<byte> bytes)
    {
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        {
            return "image/png";
        }
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]))
        {
            return "image/jpeg";
        }
        if (bytes.Length >= 12 && bytes[..4].SequenceEqual("RIFF"u8) && bytes[8..12].SequenceEqual("WEBP"u8))
        {
            return "image/webp";
        }
        return null;
    }

    /// <summary>The re-encoded sizes and their content hash, or the rule that failed: notAnImage, typeMismatch, tooManyPixels, corrupt.</summary>
    public static (Processed? Result, string? Rule, string? Message) Process(byte[] bytes, string declaredType, long maxPixels, int maxSide)
    {
        var sniffed = Sniff(bytes);
        if (sniffed is null)
        {
            return (null, "notAnImage", "The body is not a PNG, JPEG or WebP image.");
        }
        if (!sniffed.Equals(declaredType, StringComparison.OrdinalIgnoreCase))
        {
            return (null, "typeMismatch", $"The body is {sniffed}, not the declared {declaredType}.");
        }
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        if (codec is null || codec.EncodedFormat != Expected(sniffed))
        {
            return (null, "notAnImage", "The image cannot be read.");
        }
        var (width, height) = (codec.Info.Width, codec.Info.Height);
        if (width <= 0 || height <= 0)
        {
            return (null, "notAnImage", "The image has no pixels.");
        }
        if ((long)width * height > maxPixels || width > maxSide || height > maxSide)
        {
            return (null, "tooManyPixels", $"At most {maxPixels} pixels and {maxSide} per side; this image is {width}x{height}.");
        }
        using var decoded = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        // An animated WebP (or APNG) keeps its first frame, composed on its canvas: an avatar is a still picture, and
        // the other frames are never decoded, so their pixels count against nothing.
        if (codec.GetPixels(decoded.Info, decoded.GetPixels(), new SKCodecOptions(FirstFrame)) != SKCodecResult.Success)
        {
            return (null, "corrupt", "The image data is incomplete or corrupt.");
        }
        // The camera's EXIF orientation is applied before the metadata goes: the stored avatar stands the way the photo was taken.
        using var upright = Upright(decoded, codec.EncodedOrigin);
        (width, height) = (upright.Width, upright.Height);
        var side = Math.Min(width, height);
        var crop = SKRectI.Create((width - side) / 2, (height - side) / 2, side, side);
        var images = new Dictionary<int, byte[]>();
        foreach (var size in Sizes)
        {
            using var target = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Premul));
            using (var canvas = new SKCanvas(target))
            {
                canvas.Clear(SKColors.Transparent);
                using var image = SKImage.FromBitmap(upright);
                canvas.DrawImage(image, crop, SKRect.Create(size, size), new SKSamplingOptions(SKCubicResampler.Mitchell), null);
            }
            using var encoded = target.Encode(SKEncodedImageFormat.Png, 100);
            images[size] = encoded.ToArray();
        }
        var hash = Convert.ToHexStringLower(SHA256.HashData(images[DefaultSize]));
        return (new Processed(images, hash), null, null);
    }

    /// <summary>
    /// A copy of <paramref name="bitmap"/> turned by its EXIF orientation (1-8: TopLeft is as stored; RightTop, the
    /// usual portrait photo, is rotated 90° clockwise). Each origin is the affine map from stored to displayed pixels.
    /// </summary>
    internal static SKBitmap Upright(SKBitmap bitmap, SKEncodedOrigin origin)
    {
        float w = bitmap.Width, h = bitmap.Height;
        var (matrix, swap) = origin switch
        {
            SKEncodedOrigin.TopRight => (new SKMatrix(-1, 0, w, 0, 1, 0, 0, 0, 1), false),
            SKEncodedOrigin.BottomRight => (new SKMatrix(-1, 0, w, 0, -1, h, 0, 0, 1), false),
            SKEncodedOrigin.BottomLeft => (new SKMatrix(1, 0, 0, 0, -1, h, 0, 0, 1), false),
            SKEncodedOrigin.LeftTop => (new SKMatrix(0, 1, 0, 1, 0, 0, 0, 0, 1), true),
            SKEncodedOrigin.RightTop => (new SKMatrix(0, -1, h, 1, 0, 0, 0, 0, 1), true),
            SKEncodedOrigin.RightBottom => (new SKMatrix(0, -1, h, -1, 0, w, 0, 0, 1), true),
            SKEncodedOrigin.LeftBottom => (new SKMatrix(0, 1, 0, -1, 0, w, 0, 0, 1), true),
            _ => (SKMatrix.Identity, false),
        };
        var result = new SKBitmap(new SKImageInfo(swap ? bitmap.Height : bitmap.Width, swap ? bitmap.Width : bitmap.Height, bitmap.ColorType, bitmap.AlphaType));
        using var canvas = new SKCanvas(result);
        canvas.Clear(SKColors.Transparent);
        canvas.SetMatrix(matrix);
        canvas.DrawBitmap(bitmap, 0, 0);
        return result;
    }

    private static SKEncodedImageFormat Expected(string mediaType) => mediaType switch
    {
        "image/png" => SKEncodedImageFormat.Png,
        "image/jpeg" => SKEncodedImageFormat.Jpeg,
        _ => SKEncodedImageFormat.Webp,
    };
}

/// <summary>One stored size of a profile's avatar (PNG, re-encoded).</summary>
public sealed class Avatar
{
    public string ProfileId { get; set; } = "";

    public int Size { get; set; }

    public byte[] Content { get; set; } = [];

    /// <summary>SHA-256 of this size's PNG: the ETag.</summary>
    public string Hash { get; set; } = "";
}

/// <summary>Section <c>Profile:Avatar</c>.</summary>
public sealed class AvatarOptions
{
    public const string SectionName = "Profile:Avatar";

    /// <summary>The request body limit of <c>PUT /profiles/me/avatar</c> (every other endpoint keeps <c>Security:MaxRequestBodyBytes</c>).</summary>
    public long MaxBytes { get; set; } = 2 * 1024 * 1024;

    /// <summary>Width × height read from the header: more is refused before decoding (a decoded pixel costs 4 bytes).</summary>
    public long MaxPixels { get; set; } = 16_000_000;

    public int MaxSide { get; set; } = 8192;

    public static IEnumerable<string> Validate(AvatarOptions o) => OptionsRule.Failures(
        [
            OptionsRule.AtLeast(o.MaxBytes, 1024, "Profile:Avatar:MaxBytes"),
            OptionsRule.AtLeast(o.MaxPixels, 256 * 256, "Profile:Avatar:MaxPixels"),
            OptionsRule.AtLeast(o.MaxSide, 256, "Profile:Avatar:MaxSide"),
        ]);
}
