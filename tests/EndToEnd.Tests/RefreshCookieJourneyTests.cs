using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SecurePlatform.TestSupport;

namespace SecurePlatform.EndToEnd.Tests;

/// <summary>
/// Browser mode through the real services: auth-service's login relays token-service's refresh cookie, the
/// app refreshes from the cookie at token-service, a replayed cookie revokes the session, sign-out clears it.
/// (Cookies are carried by hand: they are Secure, and the test services speak plain HTTP on loopback.)
/// </summary>
[Collection(PlatformCollection.Name)]
public class RefreshCookieJourneyTests(PlatformFixture fixture)
{
    private Platform P => fixture.Platform;

    [Fact]
    public async Task Login_refresh_replay_and_logout_in_cookie_mode_hold_end_to_end()
    {
        var user = User.New(P);
        await user.RegisterAsync();

        var login = await User.Http(P.Auth).PostAsJsonAsync("/auth/login", new { email = user.Email, password = user.Password, useCookie = true });
        var loginBody = await HttpAssert.OkJsonAsync<JsonElement>(login);
        Assert.False(loginBody.TryGetProperty("refresh_token", out _));
        var first = RefreshCookieOf(login);
        Assert.Equal(604800, first.MaxAge); // the refresh token's lifetime (idle timeout), set by token-service
        Assert.Superset(new HashSet<string> { "path=/connect/token", "secure", "httponly", "samesite=strict" }, first.Attributes);

        var refreshed = await RefreshFromCookieAsync(first.Value);
        var refreshedBody = await HttpAssert.OkJsonAsync<JsonElement>(refreshed);
        Assert.False(refreshedBody.TryGetProperty("refresh_token", out _));
        var second = RefreshCookieOf(refreshed);
        Assert.NotEqual(first.Value, second.Value);
        var access = refreshedBody.GetProperty("access_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await User.Http(P.Profile, access).GetAsync("/profiles/me")).StatusCode);

        // Replaying the first cookie is reuse: refused, the cookie cleared, the session dead everywhere.
        var replay = await RefreshFromCookieAsync(first.Value);
        Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        Assert.Equal(0, RefreshCookieOf(replay).MaxAge);
        await Eventually.HoldsAsync(async () => (await User.Http(P.Profile, access).GetAsync("/profiles/me")).StatusCode == HttpStatusCode.Unauthorized,
            TimeSpan.FromSeconds(1), "profile-service refuses the replayed session's access token");
        Assert.Equal(HttpStatusCode.BadRequest, (await RefreshFromCookieAsync(second.Value)).StatusCode);

        // Sign-out clears the cookie, and its token no longer refreshes.
        var again = await User.Http(P.Auth).PostAsJsonAsync("/auth/login", new { email = user.Email, password = user.Password, useCookie = true });
        var againAccess = (await HttpAssert.OkJsonAsync<JsonElement>(again)).GetProperty("access_token").GetString()!;
        var cookie = RefreshCookieOf(again);
        var logout = await User.Http(P.Auth, againAccess).PostAsync("/auth/logout", null);
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        Assert.Equal(0, RefreshCookieOf(logout).MaxAge);
        Assert.Equal(HttpStatusCode.BadRequest, (await RefreshFromCookieAsync(cookie.Value)).StatusCode);
    }

    private Task<HttpResponseMessage> RefreshFromCookieAsync(string cookieValue)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["client_id"] = "platform-app" }),
        };
        request.Headers.Add("Cookie", "__Secure-sp_rt=" + cookieValue);
        request.Headers.Add("X-SecurePlatform-Refresh", "1");
        return User.Http(P.Token).SendAsync(request);
    }

    private static (string Value, int MaxAge, HashSet<string> Attributes) RefreshCookieOf(HttpResponseMessage response)
    {
        var header = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("__Secure-sp_rt=", StringComparison.Ordinal));
        var parts = header.Split(';', StringSplitOptions.TrimEntries);
        var attributes = parts.Skip(1).Select(p => p.ToLowerInvariant()).ToHashSet();
        var maxAge = int.Parse(attributes.Single(a => a.StartsWith("max-age=", StringComparison.Ordinal))["max-age=".Length..], System.Globalization.CultureInfo.InvariantCulture);
        return (parts[0]["__Secure-sp_rt=".Length..], maxAge, attributes);
    }
}
