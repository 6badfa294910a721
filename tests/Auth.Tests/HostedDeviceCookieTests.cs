using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using SecurePlatform.Contracts;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Auth.Tests;

/// <summary>
/// The hosted login's device cookie over the back channel: token-service relays the browser's cookie value to the
/// credential check and keeps what it answers; a relayed cookie buys a known browser its budget as the API's does.
/// </summary>
public class HostedDeviceCookieTests
{
    private const string Password = "zebra glacier 47 lantern";
    private const int FreeFailures = 3;

    private static Task<HttpResponseMessage> VerifyAsync(AuthApp app, string email, string password, string browserIp, string? deviceCookie)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Protocol.CredentialCheck.Path)
        {
            Content = JsonContent.Create(new { email, password, clientId = "platform-app", clientIp = browserIp, userAgent = "HostedLogin/1.0", deviceCookie }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AuthApp.TokenServiceToken());
        return app.Client.SendAsync(request);
    }

    [Fact]
    public async Task A_relayed_device_cookie_signs_its_browser_in_while_the_account_is_delayed_and_a_missing_or_forged_one_does_not()
    {
        // A delay far longer than the test, so "delayed" cannot lapse on a slow machine.
        var settings = new Dictionary<string, string?>
        {
            ["Login:Throttle:FreeFailures"] = FreeFailures.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Login:Throttle:BaseDelay"] = "00:05:00",
            ["Login:Throttle:MaxDelay"] = "00:10:00",
        };
        await using var app = new ConfiguredAuthApp("hosted_device", settings);
        await ((IAsyncLifetime)app).InitializeAsync();
        var email = AuthApp.NewEmail("hosted-device");
        var id = await app.RegisterAsync(email, Password);

        var first = await HttpAssert.OkJsonAsync<JsonElement>(await VerifyAsync(app, email, Password, "198.51.100.7", deviceCookie: null));
        var cookie = first.GetProperty("deviceCookie").GetString()!;
        Assert.True(first.GetProperty("deviceCookieMaxAge").GetInt32() > 86400, "the cookie outlives the browser session");
        Assert.DoesNotContain(id, cookie, StringComparison.Ordinal); // encrypted: it names the account to auth-service only

        for (var i = 0; i < FreeFailures; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await app.LoginAsync(email, Password + "-guess" + i)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await VerifyAsync(app, email, Password, "198.51.100.7", deviceCookie: null)).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await VerifyAsync(app, email, Password, "198.51.100.7", cookie[..^4] + "AAAA")).StatusCode);
        var known = await HttpAssert.OkJsonAsync<JsonElement>(await VerifyAsync(app, email, Password, "198.51.100.7", cookie));
        Assert.Equal(id, known.GetProperty("subject").GetString());
        Assert.False(string.IsNullOrEmpty(known.GetProperty("deviceCookie").GetString()));
        // A cookie is bound to its account: another account's sign-in gets nothing from it.
        var otherEmail = AuthApp.NewEmail("hosted-device-other");
        await app.RegisterAsync(otherEmail, Password);
        for (var i = 0; i < FreeFailures; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await app.LoginAsync(otherEmail, Password + "-guess" + i)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.TooManyRequests, (await VerifyAsync(app, otherEmail, Password, "198.51.100.7", cookie)).StatusCode);
        // And the attack from elsewhere stays delayed.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await app.LoginAsync(email, Password)).StatusCode);
    }
}
