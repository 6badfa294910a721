using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Browser.Tests;

/// <summary>The signed-in user's security page in Chromium: sessions elsewhere ended at once, an external provider linked and removed.</summary>
[Collection(HostedSignInCollection.Name)]
public class SecurityPageTests(HostedSignInFixture fixture)
{
    [Fact]
    public async Task Sign_out_everywhere_else_ends_the_other_sessions_on_every_service_and_keeps_this_browser()
    {
        var (email, password) = await fixture.NewUserAsync();
        // A session elsewhere: the JSON API's sign-in, from no browser.
        using var api = new HttpClient { BaseAddress = fixture.Platform.Auth.BaseAddress };
        var login = await (await api.PostAsJsonAsync("/auth/login", new { email, password })).Content.ReadFromJsonAsync<JsonElement>();
        var elsewhere = login.GetProperty("access_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, await fixture.ProfileStatusAsync(elsewhere));

        await using var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 480, Height = 900 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync(new Uri(fixture.Platform.Token.BaseAddress, "/account/security").ToString());
        // Not signed in here yet: the login page first, then back to the security page.
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("#sessions");
        Assert.Equal(1, await page.Locator("[data-session]").CountAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(TestEnvironment.RepoRoot, "docs", "security.png"), FullPage = true });

        await page.ClickAsync("button:has-text('Sign out everywhere else')");
        await page.WaitForSelectorAsync("text=Every other session was ended.");
        await Eventually.HoldsAsync(async () => await fixture.ProfileStatusAsync(elsewhere) == HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(1), "the other session is refused by profile-service");
        Assert.Equal(0, await page.Locator("[data-session]").CountAsync());
        Assert.Contains("never ask for your password", await page.InnerTextAsync("#advice + ul"));
    }

    [Fact]
    public async Task A_signed_in_user_links_an_external_provider_and_removes_it_again()
    {
        var (email, password) = await fixture.NewUserAsync();
        var peerLogin = $"link-{Guid.NewGuid():N}"[..20];
        await using var context = await fixture.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(new Uri(fixture.Platform.Token.BaseAddress, "/account/security").ToString());
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("#methods");

        await page.ClickAsync($"button:has-text('Link {HostedSignInFixture.PeerDisplayName}')");
        await fixture.Peer.SignInAsync(page, peerLogin);
        await page.WaitForSelectorAsync("[data-login=peer]");
        Assert.Equal(1, await LinksAsync(peerLogin));

        await page.ClickAsync("[data-login=peer] button");
        await page.WaitForSelectorAsync("text=The sign-in method was removed.");
        Assert.Equal(0, await LinksAsync(peerLogin));
    }

    private Task<long> LinksAsync(string providerKey) =>
        fixture.CountAsync("authdb", "SELECT count(*) FROM user_logins WHERE login_provider = 'peer' AND provider_key = @key", ("key", providerKey));
}
