using System.Diagnostics;
using System.Net;
using System.Text.Json;
using SecurePlatform.TestSupport;
using Xunit.Abstractions;

namespace SecurePlatform.EndToEnd.Tests;

/// <summary>
/// A compromised signing key revoked through token-service is refused by every service, although each caches
/// JWKS: the revoked-key list reaches them over the revocation channel. The replacement key, which no JWKS
/// announced beforehand, works everywhere at once.
/// </summary>
[Collection(PlatformCollection.Name)]
public class SigningKeyRevocationJourneyTests(PlatformFixture fixture, ITestOutputHelper output)
{
    private Platform P => fixture.Platform;

    /// <summary>"About a second", with room for a loaded machine; the measured time goes to the test output.</summary>
    private static readonly TimeSpan Propagation = TimeSpan.FromSeconds(3);

    private static string Kid(string jwt)
    {
        var part = jwt.Split('.')[0];
        var json = Convert.FromBase64String(part.Replace('-', '+').Replace('_', '/').PadRight(part.Length + ((4 - (part.Length % 4)) % 4), '='));
        return JsonSerializer.Deserialize<JsonElement>(json).GetProperty("kid").GetString()!;
    }

    private (ServiceProcess Service, string Path)[] Checks =>
        [(P.Token, "/sessions"), (P.Profile, "/profiles/me"), (P.Audit, "/audit/me")];

    [Fact]
    public async Task Tokens_of_a_revoked_key_are_refused_by_every_service_and_the_replacement_key_works_everywhere()
    {
        var user = User.New(P);
        await user.RegisterAsync();
        var before = await user.LoginAsync();
        var compromised = Kid(before.Access);
        foreach (var (service, path) in Checks)
        {
            Assert.Equal(HttpStatusCode.OK, (await User.Http(service, before.Access).GetAsync(path)).StatusCode);
        }
        var admin = await AdminSignIn.LoginAsync(P);
        Assert.Equal(compromised, Kid(admin.Access));

        var clock = Stopwatch.StartNew();
        var revoked = await HttpAssert.OkJsonAsync<JsonElement>(await User.Http(P.Token, admin.Access).PostAsync($"/admin/signing-keys/{compromised}/revoke", null));
        var replacement = revoked.GetProperty("activeKeyId").GetString()!;
        Assert.NotEqual(compromised, replacement);

        foreach (var (service, path) in Checks)
        {
            var client = User.Http(service, before.Access);
            await Eventually.HoldsAsync(async () => (await client.GetAsync(path)).StatusCode == HttpStatusCode.Unauthorized, Propagation,
                $"{service.Project} refuses a token of the revoked key on {path}");
            output.WriteLine($"{service.Project}: refused {clock.ElapsedMilliseconds} ms after the revocation was sent");
        }

        // The replacement, unannounced: every service fetches JWKS on the revocation message, so the first request works.
        var after = await user.LoginAsync();
        Assert.Equal(replacement, Kid(after.Access));
        foreach (var (service, path) in Checks)
        {
            Assert.Equal(HttpStatusCode.OK, (await User.Http(service, after.Access).GetAsync(path)).StatusCode);
        }

        // Audited: who revoked which key.
        var audit = User.Http(P.Audit, (await AdminSignIn.LoginAsync(P)).Access);
        JsonElement? recorded = null;
        await Eventually.HoldsAsync(async () =>
        {
            var page = await HttpAssert.OkJsonAsync<JsonElement>(await audit.GetAsync("/audit/events?type=SigningKeyRevoked&limit=500"));
            recorded = page.GetProperty("items").EnumerateArray().Cast<JsonElement?>().FirstOrDefault(e => e!.Value.GetRawText().Contains(compromised, StringComparison.Ordinal));
            return recorded is not null;
        }, TimeSpan.FromSeconds(30), "audit-service stored SigningKeyRevoked");
        Assert.Equal(admin.Sub, recorded!.Value.GetProperty("actor").GetString());
    }
}
