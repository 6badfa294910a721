using System.Net;
using System.Net.Http.Headers;
using Npgsql;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Browser.Tests;

/// <summary>
/// The attacks on the authorization code flow (security-reference A1–A8, RFC 9700), each refused with nothing
/// issued or stored, over HTTP so that every redirect can be inspected.
/// </summary>
[Collection(HostedSignInCollection.Name)]
public class CodeFlowAttackTests(HostedSignInFixture fixture)
{
    private Dictionary<string, string?> Request(string challenge, string? state = null) => new()
    {
        ["client_id"] = HostedSignInFixture.NativeClientId,
        ["redirect_uri"] = fixture.NativeRedirect,
        ["response_type"] = "code",
        ["scope"] = "openid offline_access api",
        ["code_challenge"] = challenge,
        ["code_challenge_method"] = "S256",
        ["state"] = state ?? Guid.NewGuid().ToString("N"),
        ["nonce"] = Guid.NewGuid().ToString("N"),
    };

    private CodeFlowClient NewBrowser() => new(fixture.Platform.Token.BaseAddress);


    private Task<long> CountAsync(string sql, params (string Name, object Value)[] parameters) => fixture.CountAsync("tokendb", sql, parameters);

    [Fact]
    public async Task A_code_redeemed_twice_revokes_what_the_first_redemption_issued()
    {
        var (email, password) = await fixture.NewUserAsync();
        using var browser = NewBrowser();
        var (verifier, challenge) = CodeFlowClient.NewPkce();
        var request = Request(challenge, state: "state-" + Guid.NewGuid().ToString("N"));
        var callback = await browser.CodeAsync(request, email, password);
        var query = CodeFlowClient.Query(callback);
        Assert.StartsWith(fixture.NativeRedirect, callback.ToString(), StringComparison.Ordinal);
        Assert.Equal(request["state"], query["state"]); // passed through unchanged
        Assert.Equal(fixture.Platform.Token.BaseAddress.ToString(), query["iss"]); // RFC 9207

        var (status, first) = await browser.RedeemAsync(HostedSignInFixture.NativeClientId, query["code"], fixture.NativeRedirect, verifier);
        Assert.Equal(HttpStatusCode.OK, status);
        var access = first.GetProperty("access_token").GetString()!;
        Assert.True(first.TryGetProperty("id_token", out _));
        Assert.Equal(HttpStatusCode.OK, await fixture.ProfileStatusAsync(access));

        var (replayStatus, replay) = await browser.RedeemAsync(HostedSignInFixture.NativeClientId, query["code"], fixture.NativeRedirect, verifier);
        Assert.Equal(HttpStatusCode.BadRequest, replayStatus);
        Assert.Equal("invalid_grant", replay.GetProperty("error").GetString());
        Assert.False(replay.TryGetProperty("access_token", out _));
        await Eventually.HoldsAsync(async () => await fixture.ProfileStatusAsync(access) == HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(1), "the first redemption's token is refused");
        using var refresh = new HttpClient { BaseAddress = fixture.Platform.Token.BaseAddress };
        var refreshed = await refresh.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["client_id"] = HostedSignInFixture.NativeClientId, ["refresh_token"] = first.GetProperty("refresh_token").GetString()!,
        }));
        Assert.Equal(HttpStatusCode.BadRequest, refreshed.StatusCode);
    }

    [Fact]
    public async Task A_code_with_a_wrong_verifier_or_none_or_another_redirect_issues_nothing()
    {
        var (email, password) = await fixture.NewUserAsync();
        using var browser = NewBrowser();
        var (verifier, challenge) = CodeFlowClient.NewPkce();
        var code = CodeFlowClient.Query(await browser.CodeAsync(Request(challenge), email, password))["code"];
        var sessionsBefore = await CountAsync("SELECT count(*) FROM sessions");

        var attempts = new (string Name, string? Verifier, string RedirectUri)[]
        {
            ("wrong verifier", CodeFlowClient.NewPkce().Verifier, fixture.NativeRedirect),
            ("no verifier", null, fixture.NativeRedirect),
            ("the challenge as verifier", challenge, fixture.NativeRedirect),
            ("another redirect URI", verifier, fixture.NativeRedirect + "/other"),
        };
        foreach (var (name, attemptVerifier, redirect) in attempts)
        {
            var (status, body) = await browser.RedeemAsync(HostedSignInFixture.NativeClientId, code, redirect, attemptVerifier);
            Assert.True(status == HttpStatusCode.BadRequest && body.GetProperty("error").GetString() is "invalid_grant" or "invalid_request", $"{name}: {(int)status} {body}");
            Assert.False(body.TryGetProperty("access_token", out _), name);
        }
        Assert.Equal(sessionsBefore, await CountAsync("SELECT count(*) FROM sessions"));
        // The refused attempts did not burn the code (OpenIddict refuses them before it is redeemed): the client still can.
        Assert.Equal(HttpStatusCode.OK, (await browser.RedeemAsync(HostedSignInFixture.NativeClientId, code, fixture.NativeRedirect, verifier)).Status);
    }

    [Theory]
    [InlineData("no challenge")]
    [InlineData("plain")]
    [InlineData("challenge without a method")]
    public async Task An_authorization_request_without_S256_pkce_is_refused_before_any_sign_in(string variant)
    {
        using var browser = NewBrowser();
        var (_, challenge) = CodeFlowClient.NewPkce();
        var request = Request(challenge);
        switch (variant)
        {
            case "no challenge":
                request.Remove("code_challenge");
                request.Remove("code_challenge_method");
                break;
            case "plain":
                request["code_challenge"] = new string('a', 43);
                request["code_challenge_method"] = "plain";
                break;
            default:
                request.Remove("code_challenge_method");
                break;
        }
        var response = await browser.GetAsync(CodeFlowClient.AuthorizeUrl(request));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = response.Headers.Location!.ToString();
        // OpenIddict checks the PKCE parameters before it has checked the redirect URI against the client's, so the
        // error cannot go back to the client yet: our error page — never a code, never the login page.
        Assert.Equal("/account/error?error=invalid_request", location);
        Assert.DoesNotContain("code=", location, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/other")]
    [InlineData("/../evil")]
    [InlineData("?x=1")]
    [InlineData("/")]
    [InlineData("#fragment")]
    [InlineData("https://evil.example/callback")]
    [InlineData("http://127.0.0.1.evil.example/callback")]
    [InlineData("http://evil.example@127.0.0.1/callback")]
    public async Task A_redirect_uri_that_is_not_registered_exactly_gets_an_error_page_not_a_redirect(string variant)
    {
        using var browser = NewBrowser();
        var (_, challenge) = CodeFlowClient.NewPkce();
        var request = Request(challenge);
        var redirect = variant.StartsWith("http", StringComparison.Ordinal) ? variant : fixture.NativeRedirect + variant;
        request["redirect_uri"] = redirect;
        var response = await browser.GetAsync(CodeFlowClient.AuthorizeUrl(request));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = response.Headers.Location!.ToString();
        Assert.StartsWith("/account/error", location, StringComparison.Ordinal);
        Assert.DoesNotContain("evil", location, StringComparison.Ordinal);
        var page = await browser.GetAsync(location);
        Assert.Equal(HttpStatusCode.BadRequest, page.StatusCode);
        Assert.DoesNotContain(redirect, await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prompt_none_without_a_sign_in_answers_login_required_to_the_client()
    {
        using var browser = NewBrowser();
        var request = Request(CodeFlowClient.NewPkce().Challenge);
        request["prompt"] = "none";
        var response = await browser.GetAsync(CodeFlowClient.AuthorizeUrl(request));
        var query = CodeFlowClient.Query(response.Headers.Location!);
        Assert.Equal("login_required", query["error"]);
        Assert.Equal(request["state"], query["state"]);
    }

    [Fact]
    public async Task A_login_post_without_its_antiforgery_token_is_refused_and_signs_no_one_in()
    {
        var (email, password) = await fixture.NewUserAsync();
        using var browser = NewBrowser();
        var returnUrl = CodeFlowClient.AuthorizeUrl(Request(CodeFlowClient.NewPkce().Challenge));
        var response = await browser.Http.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["returnUrl"] = returnUrl, ["login_hint"] = email, ["password"] = password,
        }));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain(browser.Cookies.GetCookies(fixture.Platform.Token.BaseAddress), c => c.Name.Contains("sp_account", StringComparison.Ordinal));
        // And the next authorize request still asks for a sign-in.
        var again = await browser.GetAsync(returnUrl);
        Assert.StartsWith("/account/login", again.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_return_url_to_anywhere_but_our_endpoints_is_refused_on_the_login_page()
    {
        using var browser = NewBrowser();
        foreach (var target in new[] { "https://evil.example/", "//evil.example/", "/\\evil.example", "/account/consent?x=1", "javascript:alert(1)" })
        {
            var response = await browser.GetAsync("/account/login?returnUrl=" + Uri.EscapeDataString(target));
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            Assert.StartsWith("/account/error", response.Headers.Location!.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task End_session_to_an_unregistered_post_logout_uri_redirects_nowhere()
    {
        using var browser = NewBrowser();
        foreach (var target in new[] { "https://evil.example/", $"http://127.0.0.1:{fixture.NativePort}/signed-out/extra", $"http://127.0.0.1:{fixture.NativePort}/signed-out?x=1" })
        {
            var response = await browser.GetAsync($"/connect/endsession?client_id={HostedSignInFixture.NativeClientId}&post_logout_redirect_uri={Uri.EscapeDataString(target)}");
            var location = response.Headers.Location?.ToString() ?? "";
            Assert.False(location.Contains("evil", StringComparison.Ordinal) || location.Contains("/signed-out", StringComparison.Ordinal), $"{target}: {(int)response.StatusCode} {location}");
        }
    }

    [Fact]
    public async Task A_consent_decision_cannot_be_replayed_onto_another_request()
    {
        var (email, password) = await fixture.NewUserAsync();
        using var browser = NewBrowser();
        var (_, challenge) = CodeFlowClient.NewPkce();
        var request = new Dictionary<string, string?>
        {
            ["client_id"] = HostedSignInFixture.RpClientId, ["redirect_uri"] = $"{fixture.RpUrl}/signin-oidc", ["response_type"] = "code",
            ["scope"] = "openid", ["code_challenge"] = challenge, ["code_challenge_method"] = "S256", ["state"] = "s", ["nonce"] = "n",
        };
        var toConsent = await browser.FollowAsync(await browser.SignInAsync(await browser.GetAsync(CodeFlowClient.AuthorizeUrl(request)), email, password));
        Assert.Equal(HttpStatusCode.OK, toConsent.StatusCode); // the consent page, for "openid" only
        var page = await toConsent.Content.ReadAsStringAsync();
        var ticket = System.Text.RegularExpressions.Regex.Match(page, "name=\"ticket\" value=\"([^\"]+)\"").Groups[1].Value;

        const string GrantsWithApi = "SELECT count(*) FROM grants WHERE client_id = @client AND 'api' = ANY(scopes)";
        var before = await CountAsync(GrantsWithApi, ("client", HostedSignInFixture.RpClientId));

        // The same ticket posted with a request that asks for more.
        request["scope"] = "openid email offline_access api";
        var response = await browser.Http.PostAsync("/account/consent", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = CodeFlowClient.AntiforgeryToken(page),
            ["returnUrl"] = CodeFlowClient.AuthorizeUrl(request),
            ["ticket"] = ticket,
            ["decision"] = "allow",
        }));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/account/error", response.Headers.Location!.ToString(), StringComparison.Ordinal);
        Assert.Equal(before, await CountAsync(GrantsWithApi, ("client", HostedSignInFixture.RpClientId)));
    }

    [Fact]
    public async Task A_client_that_must_push_its_requests_is_refused_without_par_and_signs_in_with_it()
    {
        var (email, password) = await fixture.NewUserAsync();
        using var browser = NewBrowser();
        var (verifier, challenge) = CodeFlowClient.NewPkce();
        var request = Request(challenge);
        request["client_id"] = HostedSignInFixture.ParClientId;

        // Straight to the authorization endpoint: refused, no sign-in page, no code.
        var direct = await browser.GetAsync(CodeFlowClient.AuthorizeUrl(request));
        var location = direct.Headers.Location!.ToString();
        Assert.DoesNotContain("/account/login", location, StringComparison.Ordinal);
        Assert.DoesNotContain("code=", location, StringComparison.Ordinal);

        // Pushed first (RFC 9126): a request_uri, then the authorization request names only it.
        using var http = new HttpClient { BaseAddress = fixture.Platform.Token.BaseAddress };
        var pushed = await http.PostAsync("/connect/par", new FormUrlEncodedContent(request.ToDictionary(p => p.Key, p => p.Value ?? "")));
        Assert.Equal(HttpStatusCode.Created, pushed.StatusCode);
        var requestUri = System.Text.Json.JsonDocument.Parse(await pushed.Content.ReadAsStringAsync()).RootElement.GetProperty("request_uri").GetString()!;
        var callback = await browser.CodeAsync(new Dictionary<string, string?> { ["client_id"] = HostedSignInFixture.ParClientId, ["request_uri"] = requestUri }, email, password);
        var query = CodeFlowClient.Query(callback);
        Assert.Equal(request["state"], query["state"]);
        Assert.Equal(HttpStatusCode.OK, (await browser.RedeemAsync(HostedSignInFixture.ParClientId, query["code"], fixture.NativeRedirect, verifier)).Status);
    }
}
