using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using SecurePlatform.TestSupport;

namespace SecurePlatform.EndToEnd.Tests;

/// <summary>Body limits on a real Kestrel listener (the in-process test server applies none).</summary>
[Collection(PlatformCollection.Name)]
public class AvatarLimitJourneyTests(PlatformFixture fixture)
{
    private Platform P => fixture.Platform;

    /// <summary>An uncompressible PNG (random RGB noise), so its size on the wire is about width × height × 3.</summary>
    private static byte[] NoisePng(int width, int height)
    {
        static void Chunk(Stream output, string type, byte[] data)
        {
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
            output.Write(length);
            var typed = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
            output.Write(typed);
            Span<byte> crc = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typed));
            output.Write(crc);
        }

        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = 2; // RGB
        using var pixels = new MemoryStream();
        using (var zlib = new ZLibStream(pixels, CompressionLevel.Fastest, leaveOpen: true))
        {
            var row = new byte[1 + (width * 3)];
            for (var y = 0; y < height; y++)
            {
                RandomNumberGenerator.Fill(row.AsSpan(1)); // filter byte 0, then noise
                zlib.Write(row);
            }
        }
        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", pixels.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static uint Crc32(byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }
        return ~crc;
    }

    [Fact]
    public async Task A_one_mebibyte_avatar_passes_its_endpoints_limit_while_the_profile_endpoint_keeps_its_small_one()
    {
        var user = User.New(P);
        await user.RegisterAsync();
        var tokens = await user.LoginAsync("avatar-limits/1.0");
        var profile = User.Http(P.Profile, tokens.Access);
        var big = NoisePng(600, 600);
        Assert.InRange(big.Length, 1_000_000, 2 * 1024 * 1024 - 1);

        var upload = await profile.PutAsync("/profiles/me/avatar", new ByteArrayContent(big) { Headers = { ContentType = new MediaTypeHeaderValue("image/png") } });
        var url = (await HttpAssert.OkJsonAsync<JsonElement>(upload)).GetProperty("avatarUrl").GetString()!;
        // Kestrel may close the connection after answering 413 without reading the rest: that is a refusal too.
        async Task<HttpStatusCode?> StatusOf(Func<Task<HttpResponseMessage>> send)
        {
            try
            {
                return (await send()).StatusCode;
            }
            catch (HttpRequestException)
            {
                return null;
            }
        }
        var tooBig = await StatusOf(() => User.Http(P.Profile, tokens.Access).PutAsync("/profiles/me/avatar",
            new ByteArrayContent([.. big, .. new byte[1024 * 1024]]) { Headers = { ContentType = new MediaTypeHeaderValue("image/png") } }));
        var bigProfile = await StatusOf(() => User.Http(P.Profile, tokens.Access).PutAsJsonAsync("/profiles/me", new { displayName = "Ada", bio = new string('a', 100 * 1024) }));

        var served = await profile.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal("image/png", served.Content.Headers.ContentType?.MediaType);
        Assert.True((await served.Content.ReadAsByteArrayAsync()).Length < big.Length); // 256 px re-encoded, not the upload
        Assert.True(tooBig is null or HttpStatusCode.RequestEntityTooLarge, $"oversized avatar: {tooBig}");
        Assert.True(bigProfile is null or HttpStatusCode.RequestEntityTooLarge, $"oversized profile: {bigProfile}"); // Security:MaxRequestBodyBytes, 64 KiB
        var after = await HttpAssert.OkJsonAsync<JsonElement>(await profile.GetAsync("/profiles/me"));
        Assert.Equal(url, after.GetProperty("avatarUrl").GetString()); // the refused upload changed nothing
        Assert.NotEqual("Ada", after.GetProperty("displayName").GetString());
    }
}
