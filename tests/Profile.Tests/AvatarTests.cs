using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Messaging;
using SecurePlatform.TestSupport;
using SkiaSharp;

namespace SecurePlatform.Profile.Tests;

/// <summary>Avatar uploads with hostile files: each refused or cleaned, nothing stored on refusal, only re-encoded PNGs served.</summary>
public class AvatarTests(ProfileFactory profile) : IClassFixture<ProfileFactory>
{
    private static string NewUser() => "user-" + Guid.NewGuid().ToString("N")[..12];

    internal static byte[] Image(int width, int height, SKEncodedImageFormat format, SKColor? color = null)
    {
        using var bitmap = new SKBitmap(width, height);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(color ?? SKColors.CornflowerBlue);
            using var paint = new SKPaint { Color = SKColors.OrangeRed };
            canvas.DrawCircle(width / 2f, height / 2f, Math.Min(width, height) / 3f, paint);
        }
        using var data = bitmap.Encode(format, 90);
        return data.ToArray();
    }

    private static ByteArrayContent Body(byte[] bytes, string contentType)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return content;
    }

    private int StoredAvatars(string sub) => profile.WithDb(db => db.Avatars.Count(a => a.ProfileId == sub));

    [Fact]
    public async Task A_polyglot_png_comes_back_as_a_clean_re_encoded_png_with_a_hash_etag_and_304()
    {
        var sub = NewUser();
        var client = profile.ClientWith(TestTokens.Issue(sub));
        // A valid PNG with an HTML document after IEND: a browser sniffing it could run the script.
        var polyglot = Image(600, 400, SKEncodedImageFormat.Png).Concat(Encoding.ASCII.GetBytes("<html><script>alert(document.cookie)</script></html>")).ToArray();

        var put = await client.PutAsync("/profiles/me/avatar", Body(polyglot, "image/png"));
        var url = (await HttpAssert.OkJsonAsync<JsonElement>(put)).GetProperty("avatarUrl").GetString()!;
        var other = profile.ClientWith(TestTokens.Issue(NewUser()));
        var get = await other.GetAsync(url);

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("image/png", get.Content.Headers.ContentType?.MediaType);
        Assert.Equal("nosniff", get.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.True(get.Headers.CacheControl?.Private);
        var served = await get.Content.ReadAsByteArrayAsync();
        Assert.DoesNotContain("<script", Encoding.ASCII.GetString(served), StringComparison.OrdinalIgnoreCase);
        using (var decoded = SKBitmap.Decode(served))
        {
            Assert.Equal((256, 256), (decoded.Width, decoded.Height));
        }
        var etag = get.Headers.ETag!;
        Assert.Equal($"\"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(served))}\"", etag.Tag);
        foreach (var stored in profile.WithDb(db => db.Avatars.AsNoTracking().Where(a => a.ProfileId == sub).ToList()))
        {
            Assert.DoesNotContain("<script", Encoding.ASCII.GetString(stored.Content), StringComparison.OrdinalIgnoreCase);
            Assert.NotEqual(polyglot, stored.Content); // the original bytes are never stored
        }

        var again = new HttpRequestMessage(HttpMethod.Get, url);
        again.Headers.IfNoneMatch.Add(etag);
        var notModified = await other.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());

        var small = await other.GetAsync($"/profiles/{sub}/avatar?size=64");
        using var smallImage = SKBitmap.Decode(await small.Content.ReadAsByteArrayAsync());
        Assert.Equal(64, smallImage.Width);
        await HttpAssert.IsProblemAsync(await other.GetAsync($"/profiles/{sub}/avatar?size=4096"), HttpStatusCode.BadRequest);
        // A value that does not bind (not a number) is named like any other bad field, never echoed back.
        var unbound = await HttpAssert.IsProblemAsync(await other.GetAsync($"/profiles/{sub}/avatar?size=abc%3Cscript%3E"), HttpStatusCode.BadRequest);
        Assert.Equal(["invalid"], unbound.GetProperty("rules").GetProperty("size").EnumerateArray().Select(r => r.GetString()));
        Assert.DoesNotContain("script", unbound.GetRawText(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1, profile.WithDb(db => db.Set<OutboxMessage>().AsEnumerable().Count(m => m.Type.EndsWith("AvatarUploaded") && m.Payload.Contains(sub))));
    }

    [Fact]
    public async Task Jpeg_metadata_such_as_exif_and_comments_is_not_carried_over()
    {
        var sub = NewUser();
        var client = profile.ClientWith(TestTokens.Issue(sub));
        var jpeg = Image(300, 300, SKEncodedImageFormat.Jpeg);
        // After SOI: an APP1 "Exif" segment and a COM segment, both carrying a marker string.
        static byte[] Segment(byte marker, byte[] payload) => [0xFF, marker, (byte)((payload.Length + 2) >> 8), (byte)((payload.Length + 2) & 0xFF), .. payload];
        var secret = Encoding.ASCII.GetBytes("GPS 52.5200N 13.4050E home-address-secret");
        byte[] withMetadata = [.. jpeg[..2], .. Segment(0xE1, [.. "Exif\0\0"u8, .. secret]), .. Segment(0xFE, secret), .. jpeg[2..]];

        (await client.PutAsync("/profiles/me/avatar", Body(withMetadata, "image/jpeg"))).EnsureSuccessStatusCode();

        var stored = profile.WithDb(db => db.Avatars.AsNoTracking().Where(a => a.ProfileId == sub).ToList());
        Assert.Equal(2, stored.Count);
        Assert.All(stored, a => Assert.DoesNotContain("home-address-secret", Encoding.ASCII.GetString(a.Content)));
        Assert.All(stored, a => Assert.True(a.Content.AsSpan().StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47])));
    }

    [Fact]
    public async Task A_jpeg_with_exif_orientation_6_is_stored_turned_upright()
    {
        var sub = NewUser();
        var client = profile.ClientWith(TestTokens.Issue(sub));
        // Stored 200x100, left half red and right half blue; orientation 6 (RightTop) says: turn 90° clockwise to view,
        // so upright it is 100x200 with red on top and blue below.
        using var bitmap = new SKBitmap(200, 100);
        using (var canvas = new SKCanvas(bitmap))
        {
            using var red = new SKPaint { Color = SKColors.Red };
            using var blue = new SKPaint { Color = SKColors.Blue };
            canvas.DrawRect(0, 0, 100, 100, red);
            canvas.DrawRect(100, 0, 100, 100, blue);
        }
        using var encoded = bitmap.Encode(SKEncodedImageFormat.Jpeg, 95);
        var jpeg = encoded.ToArray();
        // APP1 Exif: big-endian TIFF header, one IFD with one entry (0x0112 Orientation, SHORT, 1, value 6), no next IFD.
        byte[] exif = [.. "Exif\0\0"u8, .. "MM"u8, 0x00, 0x2A, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0];
        byte[] oriented = [.. jpeg[..2], 0xFF, 0xE1, (byte)((exif.Length + 2) >> 8), (byte)((exif.Length + 2) & 0xFF), .. exif, .. jpeg[2..]];
        using (var codec = SKCodec.Create(new MemoryStream(oriented)))
        {
            Assert.Equal(SKEncodedOrigin.RightTop, codec.EncodedOrigin); // the test file says what it should
        }

        (await client.PutAsync("/profiles/me/avatar", Body(oriented, "image/jpeg"))).EnsureSuccessStatusCode();

        var stored = profile.WithDb(db => db.Avatars.AsNoTracking().Single(a => a.ProfileId == sub && a.Size == 256));
        using var image = SKBitmap.Decode(stored.Content);
        static bool Reddish(SKColor c) => c.Red > 200 && c.Blue < 60;
        static bool Bluish(SKColor c) => c.Blue > 200 && c.Red < 60;
        // Unturned, the left column would be red from top to bottom.
        Assert.True(Reddish(image.GetPixel(64, 20)), image.GetPixel(64, 20).ToString());
        Assert.True(Bluish(image.GetPixel(64, 235)), image.GetPixel(64, 235).ToString());
        Assert.True(Reddish(image.GetPixel(200, 20)) && Bluish(image.GetPixel(200, 235)));
    }

    public static TheoryData<string, string, string> Refused() => new()
    {
        { "html-labelled-png", "image/png", "notAnImage" },
        { "jpeg-labelled-png", "image/png", "typeMismatch" },
        { "truncated-png", "image/png", "corrupt" },
        { "bomb", "image/png", "tooManyPixels" },
        { "webp-labelled-jpeg", "image/jpeg", "typeMismatch" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Files_that_are_not_what_they_claim_or_would_explode_are_refused_and_nothing_is_stored(string file, string contentType, string rule)
    {
        var sub = NewUser();
        var client = profile.ClientWith(TestTokens.Issue(sub));
        var png = Image(300, 300, SKEncodedImageFormat.Png);
        var bytes = file switch
        {
            "html-labelled-png" => Encoding.ASCII.GetBytes("<html><body onload=alert(1)>avatar.png</body></html>"),
            "jpeg-labelled-png" => Image(100, 100, SKEncodedImageFormat.Jpeg),
            "truncated-png" => png[..(png.Length / 2)],
            // 6000 x 6000 pixels of one colour: ~100 KB on the wire, 144 MB once decoded.
            "bomb" => Image(6000, 6000, SKEncodedImageFormat.Png, SKColors.White),
            _ => Image(100, 100, SKEncodedImageFormat.Webp),
        };
        if (file == "bomb")
        {
            Assert.True(bytes.Length < 2 * 1024 * 1024, $"the bomb is {bytes.Length} bytes");
        }

        var response = await client.PutAsync("/profiles/me/avatar", Body(bytes, contentType));

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(rule, problem.GetProperty("rules").GetProperty("image")[0].GetString());
        Assert.Equal(0, StoredAvatars(sub));
        Assert.Null(profile.WithDb(db => db.Profiles.AsNoTracking().SingleOrDefault(p => p.Id == sub))?.AvatarHash);
    }

    [Theory]
    [InlineData("image/gif")]
    [InlineData("image/svg+xml")]
    [InlineData("text/html")]
    [InlineData("image/png; charset=utf-7")]
    public async Task Other_media_types_are_415(string contentType)
    {
        var sub = NewUser();
        var client = profile.ClientWith(TestTokens.Issue(sub));

        var response = await client.PutAsync("/profiles/me/avatar", Body(Image(64, 64, SKEncodedImageFormat.Png), contentType));

        await HttpAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Equal(0, StoredAvatars(sub));
    }

    [Fact]
    public async Task A_body_over_two_mebibytes_is_413_and_stores_nothing()
    {
        var sub = NewUser();
        var client = profile.ClientWith(TestTokens.Issue(sub));
        var png = Image(64, 64, SKEncodedImageFormat.Png);
        var oversized = png.Concat(new byte[2 * 1024 * 1024]).ToArray();

        var response = await client.PutAsync("/profiles/me/avatar", Body(oversized, "image/png"));

        await HttpAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(0, StoredAvatars(sub));
    }

    /// <summary>
    /// An animated WebP (RIFF: VP8X with the animation flag, ANIM, one ANMF per frame): each frame a lossless WebP
    /// Skia encoded, a solid colour, carried over as its VP8L chunk.
    /// </summary>
    internal static byte[] AnimatedWebp(int width, int height, params SKColor[] frames)
    {
        static void U24(List<byte> to, int value) => to.AddRange([(byte)value, (byte)(value >> 8), (byte)(value >> 16)]);
        static void Chunk(List<byte> to, string fourCc, IReadOnlyCollection<byte> payload)
        {
            to.AddRange(Encoding.ASCII.GetBytes(fourCc));
            to.AddRange(BitConverter.GetBytes(payload.Count));
            to.AddRange(payload);
            if (payload.Count % 2 == 1)
            {
                to.Add(0);
            }
        }
        var body = new List<byte>();
        var vp8x = new List<byte> { 0x02 | 0x10, 0, 0, 0 }; // animation, alpha
        U24(vp8x, width - 1);
        U24(vp8x, height - 1);
        Chunk(body, "VP8X", vp8x);
        Chunk(body, "ANIM", [0, 0, 0, 0, 0, 0]); // background, loop forever
        foreach (var color in frames)
        {
            using var bitmap = new SKBitmap(width, height);
            bitmap.Erase(color);
            using var pixmap = bitmap.PeekPixels();
            using var still = pixmap.Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, 100))!;
            var bytes = still.ToArray();
            Assert.Equal("VP8L", Encoding.ASCII.GetString(bytes, 12, 4)); // a simple lossless file: RIFF, WEBP, then its one chunk
            var frame = new List<byte>();
            U24(frame, 0);
            U24(frame, 0);
            U24(frame, width - 1);
            U24(frame, height - 1);
            U24(frame, 100); // ms
            frame.Add(0x02); // no blending with the previous frame, no disposal
            frame.AddRange(bytes[12..]);
            Chunk(body, "ANMF", frame);
        }
        var file = new List<byte>();
        file.AddRange("RIFF"u8.ToArray());
        file.AddRange(BitConverter.GetBytes(4 + body.Count));
        file.AddRange("WEBP"u8.ToArray());
        file.AddRange(body);
        return [.. file];
    }

    [Fact]
    public async Task An_animated_webp_keeps_its_first_frame_as_a_still_png()
    {
        var sub = NewUser();
        var client = profile.ClientWith(TestTokens.Issue(sub));
        var animated = AnimatedWebp(96, 96, SKColors.Red, SKColors.Blue, SKColors.Lime);
        using (var codec = SKCodec.Create(SKData.CreateCopy(animated)))
        {
            Assert.Equal(3, codec.FrameCount); // the library reads it as the animation it is
        }

        var put = await client.PutAsync("/profiles/me/avatar", Body(animated, "image/webp"));

        var url = (await HttpAssert.OkJsonAsync<JsonElement>(put)).GetProperty("avatarUrl").GetString()!;
        var served = await (await client.GetAsync(url)).Content.ReadAsByteArrayAsync();
        using var stored = SKCodec.Create(SKData.CreateCopy(served));
        Assert.Equal(SKEncodedImageFormat.Png, stored.EncodedFormat);
        Assert.True(stored.FrameCount <= 1, $"{stored.FrameCount} frames stored");
        using var decoded = SKBitmap.Decode(served);
        Assert.Equal((256, 256), (decoded.Width, decoded.Height));
        foreach (var (x, y) in new[] { (128, 128), (5, 5), (250, 250) })
        {
            var pixel = decoded.GetPixel(x, y);
            Assert.True(pixel.Red > 240 && pixel.Green < 16 && pixel.Blue < 16, $"({x},{y}) is the first frame's red, not {pixel}");
        }
    }

    [Fact]
    public async Task Deleting_the_avatar_or_the_profile_removes_the_pictures()
    {
        var sub = NewUser();
        var client = profile.ClientWith(TestTokens.Issue(sub));
        (await client.PutAsync("/profiles/me/avatar", Body(Image(128, 128, SKEncodedImageFormat.Webp), "image/webp"))).EnsureSuccessStatusCode();

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync("/profiles/me/avatar")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/profiles/{sub}/avatar")).StatusCode);
        Assert.Equal(0, StoredAvatars(sub));
        var me = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync("/profiles/me"));
        Assert.Equal(JsonValueKind.Null, me.GetProperty("avatarUrl").ValueKind);

        (await client.PutAsync("/profiles/me/avatar", Body(Image(128, 128, SKEncodedImageFormat.Png), "image/png"))).EnsureSuccessStatusCode();
        Assert.Equal(2, StoredAvatars(sub));
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync("/profiles/me")).StatusCode);
        Assert.Equal(0, StoredAvatars(sub));
    }
}

/// <summary>The upload budget is per user: one user's uploads do not use up another's.</summary>
public class AvatarRateLimitTests
{
    [Fact]
    public async Task Uploads_beyond_the_budget_are_429_per_user()
    {
        await using var profile = new ProfileFactory(new() { ["RateLimiting:Policies:upload:PermitLimit"] = "2", ["RateLimiting:Policies:upload:Window"] = "01:00:00" });
        var first = profile.ClientWith(TestTokens.Issue("user-" + Guid.NewGuid().ToString("N")[..12]));
        var second = profile.ClientWith(TestTokens.Issue("user-" + Guid.NewGuid().ToString("N")[..12]));
        var png = AvatarTests.Image(64, 64, SKEncodedImageFormat.Png);
        HttpContent Body() => new ByteArrayContent(png) { Headers = { ContentType = new MediaTypeHeaderValue("image/png") } };

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            statuses.Add((await first.PutAsync("/profiles/me/avatar", Body())).StatusCode);
        }
        var other = await second.PutAsync("/profiles/me/avatar", Body());

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }
}
