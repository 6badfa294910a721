using System.Net.Http.Json;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Playwright;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Browser.Tests;

/// <summary>A standard relying party signs a user in through the hosted login and consent, uses and refreshes its tokens, and signs out.</summary>
[Collection(HostedSignInCollection.Name)]
public class HostedSignInTests(HostedSignInFixture fixture)
{
    private static readonly string DocsDirectory = Path.Combine(TestEnvironment.RepoRoot, "docs");

    [Fact]
    public async Task A_third_party_web_app_signs_in_with_login_and_consent_uses_refreshes_and_signs_out_everywhere()
    {
        var (email, password) = await fixture.NewUserAsync();
        await using var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 480, Height = 720 } });
        var page = await context.NewPageAsync();

        await page.GotoAsync(fixture.RpUrl);
        await page.ClickAsync("#signin");
        // The hosted login, on token-service's origin.
        await page.WaitForURLAsync(url => url.StartsWith(fixture.Platform.Token.BaseAddress + "account/login", StringComparison.Ordinal));
        Assert.Equal("Sign in", await page.InnerTextAsync("h1"));
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password + "-wrong");
        await page.ClickAsync("button[type=submit]");
        Assert.Equal("Invalid email or password.", (await page.InnerTextAsync("[role=alert]")).Trim());
        await page.FillAsync("#password", password);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(DocsDirectory, "login.png") });
        await page.ClickAsync("button[type=submit]");

        // Consent: a third-party client, its name and the scopes in plain words.
        await page.WaitForURLAsync(url => url.Contains("/account/consent", StringComparison.Ordinal));
        Assert.Contains("Example Notes", await page.InnerTextAsync("main"));
        Assert.Contains("See your email address", await page.InnerTextAsync("main"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(DocsDirectory, "consent.png") });
        await page.ClickAsync("button[value=allow]");

        // Back at the relying party, signed in, with an identity token that names the user.
        await ArriveAsync(page, fixture.RpUrl + "/");
        var sub = await page.InnerTextAsync("#sub");
        Assert.False(string.IsNullOrEmpty(sub));
        Assert.Equal(email, await page.InnerTextAsync("#email"));

        // The access token works at profile-service; the refresh rotates.
        await page.GotoAsync(fixture.RpUrl + "/profile");
        Assert.StartsWith("200 ", await page.InnerTextAsync("body"));
        await page.GotoAsync(fixture.RpUrl + "/refresh");
        Assert.Equal("200", (await page.InnerTextAsync("body")).Trim());
        var tokensResponse = await page.GotoAsync(fixture.RpUrl + "/tokens");
        var tokensText = await tokensResponse!.TextAsync();
        Assert.True(tokensText.StartsWith('{'), $"/tokens {tokensResponse.Status} at {page.Url}: {tokensText[..Math.Min(300, tokensText.Length)]}");
        var tokens = JsonDocument.Parse(tokensText).RootElement;
        var access = tokens.GetProperty("access_token").GetString()!;
        var idToken = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(tokens.GetProperty("id_token").GetString());
        Assert.Equal(sub, idToken.Subject);
        Assert.Equal(HostedSignInFixture.RpClientId, idToken.Audiences.Single());
        Assert.True(idToken.TryGetPayloadValue<long>("auth_time", out _), "auth_time in the identity token");
        Assert.True(idToken.TryGetPayloadValue<string>("sid", out _), "sid in the identity token");
        Assert.True(idToken.TryGetPayloadValue<string>("nonce", out _), "nonce in the identity token");
        Assert.Equal("urn:secureplatform:acr:single-factor", idToken.GetPayloadValue<string>("acr")); // a password alone
        Assert.Equal(HttpStatusCode.OK, await fixture.ProfileStatusAsync(access));

        // Sign-out through the relying party: end-session with its id_token_hint.
        await page.GotoAsync(fixture.RpUrl + "/signout");
        await ArriveAsync(page, fixture.RpUrl + "/");
        Assert.Equal("Signed out", await page.InnerTextAsync("#status"));

        // RP-initiated logout ended the session on every service within the second.
        var refused = await Eventually.HoldsAsync(async () => await fixture.ProfileStatusAsync(access) == HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(1), "the signed-out token is refused");
        Assert.True(refused <= TimeSpan.FromSeconds(1));
        using var sessions = new HttpClient { BaseAddress = fixture.Platform.Token.BaseAddress };
        sessions.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", access);
        Assert.Equal(HttpStatusCode.Unauthorized, (await sessions.GetAsync("/sessions")).StatusCode);
    }

    [Fact]
    public async Task Userinfo_answers_the_profile_scope_with_the_profile_from_profile_service()
    {
        await using var context = await fixture.Browser.NewContextAsync();
        var (sub, _, access) = await fixture.SignInAtRelyingPartyAsync(await context.NewPageAsync());
        using var profile = new HttpClient { BaseAddress = fixture.Platform.Profile.BaseAddress };
        profile.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", access);
        var put = await profile.PutAsJsonAsync("/profiles/me", new { displayName = "Ada Lovelace", locale = "en-GB", timeZone = "Europe/London", website = "https://ada.example/" });
        Assert.True(put.IsSuccessStatusCode, $"PUT /profiles/me: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");

        using var token = new HttpClient { BaseAddress = fixture.Platform.Token.BaseAddress };
        token.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", access);
        var info = JsonDocument.Parse(await token.GetStringAsync("/connect/userinfo")).RootElement;

        Assert.Equal(sub, info.GetProperty("sub").GetString());
        Assert.Equal("Ada Lovelace", info.GetProperty("name").GetString());
        Assert.Equal("en-GB", info.GetProperty("locale").GetString());
        Assert.Equal("Europe/London", info.GetProperty("zoneinfo").GetString());
        Assert.Equal("https://ada.example/", info.GetProperty("website").GetString());
        Assert.InRange(info.GetProperty("updated_at").GetInt64(), DateTimeOffset.UtcNow.AddMinutes(-2).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 5);
        Assert.True(info.TryGetProperty("email", out _), "the email scope was granted too");
    }

    [Fact]
    public async Task A_user_whose_password_an_admin_expired_is_told_so_after_the_right_password_and_gets_no_session()
    {
        var (email, password) = await fixture.NewUserAsync();
        Assert.Equal(1, await fixture.CountAsync("authdb",
            "WITH u AS (UPDATE users SET password_change_required = true WHERE normalized_email = upper(@email) RETURNING 1) SELECT count(*) FROM u", ("email", email)));
        await using var context = await fixture.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(fixture.RpUrl);
        await page.ClickAsync("#signin");

        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password + "-wrong");
        await page.ClickAsync("button[type=submit]");
        Assert.Equal("Invalid email or password.", (await page.InnerTextAsync("[role=alert]")).Trim()); // a wrong password learns nothing
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");

        Assert.StartsWith("Your password must be changed before you can sign in.", (await page.InnerTextAsync("[role=alert]")).Trim());
        Assert.Contains("/account/login", page.Url, StringComparison.Ordinal);
        // Not signed in at token-service either: its own pages send the browser to the login page.
        await page.GotoAsync(fixture.Platform.Token.BaseAddress + "account/security");
        Assert.Contains("/account/login", page.Url, StringComparison.Ordinal);
        Assert.Equal(1, await fixture.CountAsync("authdb", "SELECT count(*) FROM users WHERE normalized_email = upper(@email) AND password_change_required", ("email", email)));
    }

    [Fact]
    public async Task The_pages_carry_a_strict_policy_and_cannot_be_framed()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = fixture.Platform.Token.BaseAddress };
        var response = await http.GetAsync("/account/login?returnUrl=" + Uri.EscapeDataString("/connect/authorize?client_id=x"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("script-src", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        var html = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("style=", html, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Waits for <paramref name="url"/>; if the browser ends elsewhere, says where and what it shows.</summary>
    private static async Task ArriveAsync(IPage page, string url)
    {
        try
        {
            await page.WaitForURLAsync(url, new PageWaitForURLOptions { Timeout = 15_000 });
        }
        catch (TimeoutException)
        {
            Assert.Fail($"expected {url}, the browser is at {page.Url}: {(await page.InnerTextAsync("body"))[..Math.Min(500, (await page.InnerTextAsync("body")).Length)]}");
        }
    }

}
