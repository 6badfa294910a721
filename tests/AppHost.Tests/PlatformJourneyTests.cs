using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using SecurePlatform.TestSupport;

namespace SecurePlatform.AppHost.Tests;

/// <summary>The platform as the AppHost runs it: the sign-in journey across the four services, and one trace through the broker.</summary>
[Collection(AppHostCollection.Name)]
public class PlatformJourneyTests(AppHostFixture platform)
{
    private static HttpClient Client(Uri service, string? accessToken = null)
    {
        var client = new HttpClient { BaseAddress = service, Timeout = TimeSpan.FromSeconds(30) };
        if (accessToken is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }
        return client;
    }

    private static (string Email, string Password) NewUser() =>
        ($"apphost-{Guid.NewGuid():N}"[..30] + "@example.test", "Correct-Horse-" + Guid.NewGuid().ToString("N")[..10]);

    private async Task<JsonElement> LoginAsync(string email, string password) =>
        await HttpAssert.OkJsonAsync<JsonElement>(await Client(platform.Auth).PostAsJsonAsync("/auth/login", new { email, password }));

    /// <summary>
    /// Administrators MUST use MFA: the first, password-only sign-in (no admin role) enrols TOTP, the next one is two
    /// steps (a recovery code: a TOTP code is accepted once per 30 s step, and enrolment used the current one).
    /// </summary>
    private async Task<string> AdminAccessTokenAsync()
    {
        var first = await LoginAsync(AppHostFixture.AdminEmail, AppHostFixture.AdminPassword);
        if (!first.TryGetProperty("mfaRequired", out _))
        {
            var enrolling = Client(platform.Auth, first.GetProperty("access_token").GetString()!);
            var secret = (await HttpAssert.OkJsonAsync<JsonElement>(await enrolling.PostAsync("/auth/mfa/totp", null))).GetProperty("secret").GetString()!;
            var code = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(secret)).ComputeTotp();
            var confirmed = await HttpAssert.OkJsonAsync<JsonElement>(await enrolling.PostAsJsonAsync("/auth/mfa/totp/confirm", new { code }));
            AdminRecoveryCodes = [.. confirmed.GetProperty("recoveryCodes").EnumerateArray().Select(c => c.GetString()!)];
            first = await LoginAsync(AppHostFixture.AdminEmail, AppHostFixture.AdminPassword);
        }
        var recoveryCode = AdminRecoveryCodes[0];
        AdminRecoveryCodes = AdminRecoveryCodes[1..];
        var tokens = await HttpAssert.OkJsonAsync<JsonElement>(await Client(platform.Auth).PostAsJsonAsync("/auth/login/mfa",
            new { ticket = first.GetProperty("mfaTicket").GetString(), recoveryCode }));
        return tokens.GetProperty("access_token").GetString()!;
    }

    private static string[] AdminRecoveryCodes = [];

    /// <summary>
    /// The hosted login page (token-service) checks the password through auth-service's back channel: the AppHost
    /// must tell token-service where auth-service is, or every browser sign-in fails as "unavailable".
    /// </summary>
    [Fact]
    public async Task The_hosted_login_page_signs_a_user_in_through_auth_service()
    {
        var (email, password) = NewUser();
        (await Client(platform.Auth).PostAsJsonAsync("/auth/register", new { email, password })).EnsureSuccessStatusCode();
        var cookies = new CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = platform.Token };

        async Task<HttpResponseMessage> PostLoginAsync(string withPassword)
        {
            var page = await browser.GetStringAsync("/account/login?returnUrl=%2Faccount%2Fsecurity");
            var antiforgery = System.Text.RegularExpressions.Regex.Match(page, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"").Groups[1].Value;
            Assert.False(string.IsNullOrEmpty(antiforgery), "the login form carries an antiforgery token");
            return await browser.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["returnUrl"] = "/account/security", ["login_hint"] = email, ["password"] = withPassword, ["__RequestVerificationToken"] = antiforgery,
            }));
        }

        var wrong = await PostLoginAsync(password + "-wrong");
        Assert.Contains("Invalid email or password.", await wrong.Content.ReadAsStringAsync()); // auth-service answered: not "unavailable"
        var signedIn = await PostLoginAsync(password);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Equal("/account/security", signedIn.Headers.Location?.OriginalString);
        var security = await browser.GetAsync("/account/security");
        Assert.Equal(HttpStatusCode.OK, security.StatusCode);
        Assert.Contains("Where you are signed in", await security.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Every_service_is_healthy_through_the_apphost()
    {
        foreach (var service in new[] { platform.Auth, platform.Token, platform.Audit, platform.Profile })
        {
            Assert.Equal(HttpStatusCode.OK, (await Client(service).GetAsync("/health")).StatusCode);
        }
    }

    [Fact]
    public async Task Register_login_profile_refresh_logout_then_refused()
    {
        var (email, password) = NewUser();
        var register = await Client(platform.Auth).PostAsJsonAsync("/auth/register", new { email, password });
        Assert.True(register.IsSuccessStatusCode, $"register: {(int)register.StatusCode} {await register.Content.ReadAsStringAsync()}");

        var login = await LoginAsync(email, password);
        var access = login.GetProperty("access_token").GetString()!;
        var refresh = login.GetProperty("refresh_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await Client(platform.Profile, access).GetAsync("/profiles/me")).StatusCode);

        var refreshed = await HttpAssert.OkJsonAsync<JsonElement>(await Client(platform.Token).PostAsync("/connect/token",
            new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token", ["client_id"] = "platform-app", ["refresh_token"] = refresh,
            })));
        var access2 = refreshed.GetProperty("access_token").GetString()!;
        Assert.NotEqual(refresh, refreshed.GetProperty("refresh_token").GetString());
        Assert.Equal(HttpStatusCode.OK, (await Client(platform.Profile, access2).GetAsync("/profiles/me")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await Client(platform.Auth, access2).PostAsync("/auth/logout", null)).StatusCode);
        await Eventually.HoldsAsync(
            async () => (await Client(platform.Profile, access2).GetAsync("/profiles/me")).StatusCode == HttpStatusCode.Unauthorized,
            TimeSpan.FromSeconds(2), "profile-service refuses the signed-out session");
        Assert.Equal(HttpStatusCode.Unauthorized, (await Client(platform.Audit, access2).GetAsync("/audit/me")).StatusCode);
    }

    [Fact]
    public async Task A_trace_started_by_an_http_request_in_auth_service_ends_in_audit_services_consumer()
    {
        var (email, password) = NewUser();
        var traceId = ActivityTraceId.CreateRandom();

        // The caller's trace: HttpClient sends it as traceparent; auth-service continues it, writes UserRegistered
        // to its outbox with it, MassTransit carries it through RabbitMQ, and audit-service's consumer stores it.
        using (new Activity("apphost-test caller").SetParentId(traceId, ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded).Start())
        {
            var register = await Client(platform.Auth).PostAsJsonAsync("/auth/register", new { email, password });
            Assert.True(register.IsSuccessStatusCode, $"register: {(int)register.StatusCode}");
        }
        var sub = (await LoginAsync(email, password)).GetProperty("access_token").GetString()!;
        sub = JwtSubject(sub);

        var admin = await AdminAccessTokenAsync();
        JsonElement row = default;
        await Eventually.HoldsAsync(async () =>
        {
            var page = await HttpAssert.OkJsonAsync<JsonElement>(
                await Client(platform.Audit, admin).GetAsync($"/audit/events?userId={sub}&type=UserRegistered"));
            var items = page.GetProperty("items");
            if (items.GetArrayLength() == 0)
            {
                return false;
            }
            row = items[0];
            return true;
        }, TimeSpan.FromSeconds(30), "audit-service stored UserRegistered");

        Assert.Equal("auth-service", row.GetProperty("sourceService").GetString());
        Assert.Equal(traceId.ToHexString(), row.GetProperty("correlationId").GetString());
    }

    private static string JwtSubject(string jwt)
    {
        var part = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
        var json = JsonSerializer.Deserialize<JsonElement>(Convert.FromBase64String(part.PadRight(part.Length + ((4 - (part.Length % 4)) % 4), '=')));
        return json.GetProperty("sub").GetString()!;
    }
}
