using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.Playwright;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Browser.Tests;

/// <summary>The hosted login's second step, in the browser: a user with TOTP gets the code form after the password, never a code without it.</summary>
[Collection(HostedSignInCollection.Name)]
public class HostedMfaTests(HostedSignInFixture fixture)
{
    [Fact]
    public async Task A_user_with_totp_signs_in_on_the_hosted_page_with_password_then_a_recovery_code_and_the_tokens_say_mfa()
    {
        var (email, password) = await fixture.NewUserAsync();
        var recoveryCodes = await fixture.EnrolTotpAsync(email, password);

        await using var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 480, Height = 760 } });
        var page = await context.NewPageAsync();
        var callback = await fixture.CaptureNativeCallbackAsync(context, page);

        var (verifier, challenge) = CodeFlowClient.NewPkce();
        var authorize = new Uri(fixture.Platform.Token.BaseAddress, CodeFlowClient.AuthorizeUrl(new Dictionary<string, string?>
        {
            ["client_id"] = HostedSignInFixture.NativeClientId, ["redirect_uri"] = fixture.NativeRedirect, ["response_type"] = "code",
            ["scope"] = "openid offline_access", ["code_challenge"] = challenge, ["code_challenge_method"] = "S256", ["state"] = "mfa", ["nonce"] = "n",
        }));
        await page.GotoAsync(authorize.ToString());
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");

        // The password was right: the code form, and no code went to the client.
        await page.WaitForSelectorAsync("#recoveryCode");
        Assert.False(callback.Task.IsCompleted);
        await page.FillAsync("#recoveryCode", recoveryCodes[0]);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(TestEnvironment.RepoRoot, "docs", "mfa.png") });
        await page.ClickAsync("button[type=submit]");
        var url = await HostedSignInFixture.WaitForCallbackAsync(callback, page, TimeSpan.FromSeconds(20));

        using var flow = new CodeFlowClient(fixture.Platform.Token.BaseAddress);
        var (status, tokens) = await flow.RedeemAsync(HostedSignInFixture.NativeClientId, CodeFlowClient.Query(new Uri(url))["code"], fixture.NativeRedirect, verifier);
        Assert.Equal(System.Net.HttpStatusCode.OK, status);
        var amr = new JsonWebToken(tokens.GetProperty("id_token").GetString()).GetPayloadValue<string[]>("amr");
        Assert.Contains("mfa", amr);
        Assert.Contains("pwd", amr);
    }
}
