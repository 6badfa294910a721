using Microsoft.Playwright;

namespace SecurePlatform.Browser.Tests;

/// <summary>
/// The hosted login's device cookie: a browser that signed in to an account before keeps its budget while that account
/// is attacked from elsewhere (the fixture's platform delays an account after three failures). The cookie lives on
/// token-service's origin, out of script's reach; its value goes to auth-service's credential check and back.
/// </summary>
[Collection(HostedSignInCollection.Name)]
public class HostedDeviceCookieTests(HostedSignInFixture fixture)
{
    private const string DeviceCookie = "sp_device"; // the Development name (plain loopback HTTP); __Secure-sp_device elsewhere
    private const string Throttled = "Too many sign-in attempts. Wait a moment and try again.";

    private sealed record Outcome(bool SignedIn, string? Alert);

    /// <summary>One sign-in on the hosted page of the first-party native client, forced with prompt=login; either its code arrives or the page says why not.</summary>
    private async Task<Outcome> SignInAsync(IBrowserContext context, string email, string password, Func<IPage, Task>? onLoginPage = null)
    {
        var page = await context.NewPageAsync();
        var callback = await fixture.CaptureNativeCallbackAsync(context, page);
        var (_, challenge) = CodeFlowClient.NewPkce();
        var authorize = new Uri(fixture.Platform.Token.BaseAddress, CodeFlowClient.AuthorizeUrl(new Dictionary<string, string?>
        {
            ["client_id"] = HostedSignInFixture.NativeClientId, ["redirect_uri"] = fixture.NativeRedirect, ["response_type"] = "code",
            ["scope"] = "openid", ["code_challenge"] = challenge, ["code_challenge_method"] = "S256", ["state"] = "device", ["nonce"] = "n",
            ["prompt"] = "login",
        }));
        await page.GotoAsync(authorize.ToString());
        await page.WaitForSelectorAsync("#password");
        if (onLoginPage is not null)
        {
            await onLoginPage(page);
        }
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");
        var alert = page.WaitForSelectorAsync("[role=alert]", new PageWaitForSelectorOptions { Timeout = 30_000 });
        var done = await Task.WhenAny(callback.Task, alert);
        var outcome = done == callback.Task ? new Outcome(true, null) : new Outcome(false, (await page.InnerTextAsync("[role=alert]")).Trim());
        await page.CloseAsync();
        return outcome;
    }

    [Fact]
    public async Task The_owners_browser_with_its_device_cookie_signs_in_at_once_while_the_account_is_delayed_for_everyone_else()
    {
        var (email, password) = await fixture.NewUserAsync();
        await using var owner = await fixture.Browser.NewContextAsync();
        await using var attacker = await fixture.Browser.NewContextAsync();

        // The owner signs in once: the browser is known from now on.
        Assert.Equal(new Outcome(true, null), await SignInAsync(owner, email, password));
        var cookie = Assert.Single(await owner.CookiesAsync([fixture.Platform.Token.BaseAddress.ToString() + "account/login"]), c => c.Name == DeviceCookie);
        Assert.True(cookie.HttpOnly);
        Assert.Equal("/account", cookie.Path);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.True(cookie.Expires > DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeSeconds(), "kept for as long as auth-service says, not the browser session");
        Assert.Empty(await attacker.CookiesAsync([fixture.Platform.Token.BaseAddress.ToString() + "account/login"]));

        // Elsewhere, three wrong guesses; then the account is delayed there, even for the right password.
        for (var guess = 0; guess < 3; guess++)
        {
            Assert.Equal(new Outcome(false, "Invalid email or password."), await SignInAsync(attacker, email, password + "-guess" + guess));
        }
        Assert.Equal(new Outcome(false, Throttled), await SignInAsync(attacker, email, password));

        // The owner's browser, during the attack: in at once. Script on the login page cannot read the cookie.
        var ownerAgain = await SignInAsync(owner, email, password, async page =>
            Assert.DoesNotContain(DeviceCookie, await page.EvaluateAsync<string>("document.cookie"), StringComparison.Ordinal));
        Assert.Equal(new Outcome(true, null), ownerAgain);

        // The attack stays slowed: the owner's success forgot only the owner's own device's failures.
        Assert.Equal(new Outcome(false, Throttled), await SignInAsync(attacker, email, password));
    }
}
