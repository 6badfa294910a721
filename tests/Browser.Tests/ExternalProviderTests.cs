using System.Net;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.Playwright;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Browser.Tests;

/// <summary>
/// Sign-in with an external OpenID provider (a real one: oidc-provider in Node) through token-service's OpenIddict
/// client, in Chromium: a first sign-in creates a linked account, the next one finds it, and an existing local account
/// with the same email is not taken over — it is linked only after its password is proved.
/// </summary>
[Collection(HostedSignInCollection.Name)]
public class ExternalProviderTests(HostedSignInFixture fixture)
{
    [Fact]
    public async Task A_first_external_sign_in_creates_a_linked_account_and_the_next_one_finds_it()
    {
        var login = $"ext-{Guid.NewGuid():N}"[..20];

        var first = await SignInThroughPeerAsync(login);
        var second = await SignInThroughPeerAsync(login);

        Assert.Equal(first.GetClaim("sub").Value, second.GetClaim("sub").Value);
        Assert.Contains("fed", first.GetPayloadValue<string[]>("amr"));
        Assert.DoesNotContain("pwd", first.GetPayloadValue<string[]>("amr"));
        Assert.Equal($"{login}@peer.test", first.GetClaim("email").Value);
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM user_logins WHERE login_provider = 'peer' AND provider_key = @key", ("key", login)));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM users WHERE normalized_email = upper(@email)", ("email", $"{login}@peer.test")));
    }

    [Fact]
    public async Task An_existing_local_account_with_the_same_email_is_not_taken_over_and_is_linked_only_after_its_password()
    {
        var (email, password) = await fixture.NewUserAsync();

        // The provider vouches for the same address: no code for the client, the login page asks for the password instead.
        await using var context = await fixture.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var callback = await fixture.CaptureNativeCallbackAsync(context, page);
        await StartAtPeerAsync(page, email);
        await page.WaitForSelectorAsync(".notice");
        Assert.Contains(HostedSignInFixture.PeerDisplayName, await page.InnerTextAsync(".notice"));
        Assert.False(callback.Task.IsCompleted);
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM user_logins WHERE provider_key = @key", ("key", email)));

        // A wrong password links nothing.
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password + "-wrong");
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("#form-error");
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM user_logins WHERE provider_key = @key", ("key", email)));

        // The right one signs in as the local account and links the provider to it.
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");
        var local = await RedeemAsync(await HostedSignInFixture.WaitForCallbackAsync(callback, page, TimeSpan.FromSeconds(30)));
        Assert.Contains("pwd", local.GetPayloadValue<string[]>("amr"));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM user_logins WHERE provider_key = @key", ("key", email)));

        // From now on the provider alone signs in to that account.
        var external = await SignInThroughPeerAsync(email);
        Assert.Equal(local.GetClaim("sub").Value, external.GetClaim("sub").Value);
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM users WHERE normalized_email = upper(@email)", ("email", email)));
    }

    [Fact]
    public async Task An_existing_local_account_with_totp_is_linked_only_after_its_password_and_its_second_factor()
    {
        var (email, password) = await fixture.NewUserAsync();
        var recoveryCodes = await fixture.EnrolTotpAsync(email, password);

        await using var context = await fixture.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var callback = await fixture.CaptureNativeCallbackAsync(context, page);
        await StartAtPeerAsync(page, email);
        await page.WaitForSelectorAsync(".notice");
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");

        // The right password is not enough for an account with a second factor: the code form, nothing linked, no code.
        await page.WaitForSelectorAsync("#recoveryCode");
        Assert.False(callback.Task.IsCompleted);
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM user_logins WHERE provider_key = @key", ("key", email)));

        await page.FillAsync("#recoveryCode", recoveryCodes[0]);
        await page.ClickAsync("button[type=submit]");
        var local = await RedeemAsync(await HostedSignInFixture.WaitForCallbackAsync(callback, page, TimeSpan.FromSeconds(30)));
        Assert.Contains("mfa", local.GetPayloadValue<string[]>("amr"));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM user_logins WHERE provider_key = @key", ("key", email)));
    }

    /// <summary>A fresh browser: the app's authorization request, "Sign in with Peer ID", the peer's login and consent, the code.</summary>
    private async Task<JsonWebToken> SignInThroughPeerAsync(string login)
    {
        await using var context = await fixture.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var callback = await fixture.CaptureNativeCallbackAsync(context, page);
        await StartAtPeerAsync(page, login);
        return await RedeemAsync(await HostedSignInFixture.WaitForCallbackAsync(callback, page, TimeSpan.FromSeconds(30)));
    }

    private readonly (string Verifier, string Challenge) _pkce = CodeFlowClient.NewPkce();

    private async Task StartAtPeerAsync(IPage page, string login)
    {
        var authorize = new Uri(fixture.Platform.Token.BaseAddress, CodeFlowClient.AuthorizeUrl(new Dictionary<string, string?>
        {
            ["client_id"] = HostedSignInFixture.NativeClientId, ["redirect_uri"] = fixture.NativeRedirect, ["response_type"] = "code",
            ["scope"] = "openid email", ["code_challenge"] = _pkce.Challenge, ["code_challenge_method"] = "S256", ["state"] = "ext", ["nonce"] = "n",
        }));
        await page.GotoAsync(authorize.ToString());
        await page.ClickAsync($"button:has-text('Sign in with {HostedSignInFixture.PeerDisplayName}')");
        await fixture.Peer.SignInAsync(page, login);
    }

    private async Task<JsonWebToken> RedeemAsync(string callbackUrl)
    {
        using var flow = new CodeFlowClient(fixture.Platform.Token.BaseAddress);
        var query = CodeFlowClient.Query(new Uri(callbackUrl));
        Assert.Equal("ext", query["state"]);
        var (status, tokens) = await flow.RedeemAsync(HostedSignInFixture.NativeClientId, query["code"], fixture.NativeRedirect, _pkce.Verifier);
        Assert.Equal(HttpStatusCode.OK, status);
        return new JsonWebToken(tokens.GetProperty("id_token").GetString());
    }

    private Task<long> CountAsync(string sql, params (string Name, object Value)[] parameters) => fixture.CountAsync("authdb", sql, parameters);
}
