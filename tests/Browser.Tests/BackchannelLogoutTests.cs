using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.Playwright;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Browser.Tests;

/// <summary>
/// OpenID Connect Back-Channel Logout 1.0: a session of the relying party that the platform ends — here by the user
/// on the sessions API, not through the relying party — reaches the relying party as a signed logout token, and the
/// relying party's own session ends with it. A relying party that is down gets it when it answers again.
/// </summary>
[Collection(HostedSignInCollection.Name)]
public class BackchannelLogoutTests(HostedSignInFixture fixture)
{
    [Fact]
    public async Task A_session_ended_at_the_platform_signs_the_relying_party_out_with_a_signed_logout_token()
    {
        await using var context = await fixture.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var (sub, sid, access) = await fixture.SignInAtRelyingPartyAsync(page);

        await RevokeAsync(access, sid);

        var logout = await ReceivedAsync(sid, TimeSpan.FromSeconds(10));
        Assert.Equal(sub, logout.GetProperty("sub").GetString());
        var token = new JsonWebToken(logout.GetProperty("token").GetString());
        Assert.Equal("logout+jwt", token.Typ);
        Assert.Equal(fixture.Platform.Token.BaseAddress.AbsoluteUri, token.Issuer);
        Assert.Equal(HostedSignInFixture.RpClientId, token.Audiences.Single());
        Assert.Equal(sid, token.GetPayloadValue<string>("sid"));
        Assert.False(token.TryGetPayloadValue<string>("nonce", out _), "a logout token carries no nonce");
        Assert.True(token.GetPayloadValue<JsonElement>("events").TryGetProperty("http://schemas.openid.net/event/backchannel-logout", out _));
        Assert.True(token.ValidTo - token.IssuedAt <= TimeSpan.FromMinutes(2), "a logout token is short-lived");

        // The relying party's own session is over: its cookie is refused on the next request.
        await page.GotoAsync(fixture.RpUrl + "/");
        Assert.Equal("Signed out", await page.InnerTextAsync("#status"));
        // Settled once, on the first attempt.
        Assert.Equal(1, await fixture.CountAsync("tokendb",
            "SELECT count(*) FROM sessions WHERE id = @sid AND backchannel_logout_done_at IS NOT NULL AND backchannel_logout_attempts = 1", ("sid", Guid.Parse(sid))));
    }

    [Fact]
    public async Task A_relying_party_that_is_down_gets_the_logout_token_once_it_answers_again()
    {
        await using var context = await fixture.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var (_, sid, access) = await fixture.SignInAtRelyingPartyAsync(page);
        using (var rp = new HttpClient { BaseAddress = new Uri(fixture.RpUrl) })
        {
            (await rp.PostAsync($"/backchannel-logout/fail-next?sid={sid}&count=2", null)).EnsureSuccessStatusCode();
        }

        await RevokeAsync(access, sid);

        await ReceivedAsync(sid, TimeSpan.FromSeconds(20));
        // Two 503s, then the delivery: three attempts, and the relying party holds the token once.
        Assert.Equal(1, await fixture.CountAsync("tokendb",
            "SELECT count(*) FROM sessions WHERE id = @sid AND backchannel_logout_done_at IS NOT NULL AND backchannel_logout_attempts = 3", ("sid", Guid.Parse(sid))));
        Assert.Single(await ReceivedAllAsync(), l => l.GetProperty("sid").GetString() == sid);
        await page.GotoAsync(fixture.RpUrl + "/");
        Assert.Equal("Signed out", await page.InnerTextAsync("#status"));
    }

    /// <summary>The user ends the session on the platform's sessions API: the relying party plays no part in it.</summary>
    private async Task RevokeAsync(string accessToken, string sid)
    {
        using var http = new HttpClient { BaseAddress = fixture.Platform.Token.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"/sessions/{sid}")).StatusCode);
    }

    private async Task<JsonElement> ReceivedAsync(string sid, TimeSpan within)
    {
        JsonElement found = default;
        try
        {
            await Eventually.HoldsAsync(async () =>
            {
                var match = (await ReceivedAllAsync()).FirstOrDefault(l => l.GetProperty("sid").GetString() == sid);
                found = match;
                return match.ValueKind == JsonValueKind.Object;
            }, within, "the relying party received a valid logout token for the session");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            var log = fixture.Platform.Processes["Token.Api"].Output;
            var rp = fixture.RelyingParty.Output;
            throw new InvalidOperationException($"{ex.Message}\ntoken-service said:\n{log[Math.Max(0, log.Length - 3000)..]}\nthe relying party said:\n{rp[Math.Max(0, rp.Length - 2000)..]}", ex);
        }
        return found;
    }

    private async Task<List<JsonElement>> ReceivedAllAsync()
    {
        using var rp = new HttpClient { BaseAddress = new Uri(fixture.RpUrl) };
        return [.. JsonDocument.Parse(await rp.GetStringAsync("/backchannel-logouts")).RootElement.EnumerateArray()];
    }
}
