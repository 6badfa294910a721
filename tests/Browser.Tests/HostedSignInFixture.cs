using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using OtpNet;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Browser.Tests;

/// <summary>
/// The four services as processes, a third-party relying party (ASP.NET Core's OpenIdConnect handler) and a
/// first-party public client registered at token-service, and headless Chromium from Debian's packages.
/// </summary>
public sealed class HostedSignInFixture : IAsyncLifetime
{
    public const string RpClientId = "example-notes";
    public const string NativeClientId = "example-native";

    /// <summary>A public native app registered with a portless loopback redirect (RFC 8252 §7.3: any port).</summary>
    public const string CliClientId = "example-cli";

    /// <summary>A first-party public client that must push its authorization requests (RFC 9126).</summary>
    public const string ParClientId = "example-par";

    public static string RpSecret { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));

    public int RpPort { get; } = ServiceProcess.FreePort();

    /// <summary>A loopback redirect nobody listens on: the tests read the code from the Location header.</summary>
    public int NativePort { get; } = ServiceProcess.FreePort();

    public Platform Platform { get; private set; } = null!;

    /// <summary>A real OpenID provider (oidc-provider, Node) configured as token-service's external provider "peer".</summary>
    public ExternalPeer Peer { get; private set; } = null!;

    public const string PeerName = "peer";

    public const string PeerDisplayName = "Peer ID";

    private readonly int _peerPort = ExternalPeer.ReservePort();

    public ServiceProcess RelyingParty { get; private set; } = null!;

    public IPlaywright Playwright { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public string RpUrl => $"http://127.0.0.1:{RpPort}";

    public string NativeRedirect => $"http://127.0.0.1:{NativePort}/callback";

    public async Task InitializeAsync()
    {
        var infra = new[] { "postgres", "authdb", "tokendb", "auditdb", "profiledb", "redis", "rabbitmq" }
            .ToDictionary(n => n, TestEnvironment.ConnectionString);
        Platform = await Platform.StartAsync(infra, "browser", new Dictionary<string, string>
        {
            [$"Clients__{RpClientId}__Secret"] = RpSecret,
            [$"Clients__{RpClientId}__DisplayName"] = "Example Notes",
            [$"Clients__{RpClientId}__RedirectUris__0"] = $"{RpUrl}/signin-oidc",
            [$"Clients__{RpClientId}__PostLogoutRedirectUris__0"] = $"{RpUrl}/signout-callback-oidc",
            [$"Clients__{RpClientId}__BackchannelLogoutUri"] = $"{RpUrl}/backchannel-logout",
            ["Token__BackchannelLogoutRetryDelay"] = "00:00:00.500",
            [$"Clients__{NativeClientId}__FirstParty"] = "true",
            [$"Clients__{NativeClientId}__DisplayName"] = "Example native app",
            [$"Clients__{NativeClientId}__RedirectUris__0"] = NativeRedirect,
            [$"Clients__{NativeClientId}__PostLogoutRedirectUris__0"] = $"http://127.0.0.1:{NativePort}/signed-out",
            [$"Clients__{ParClientId}__FirstParty"] = "true",
            [$"Clients__{ParClientId}__RequirePushedAuthorization"] = "true",
            [$"Clients__{ParClientId}__RedirectUris__0"] = NativeRedirect,
            [$"Clients__{CliClientId}__FirstParty"] = "true",
            [$"Clients__{CliClientId}__RedirectUris__0"] = "http://127.0.0.1/callback",
            [$"Clients__{CliClientId}__PostLogoutRedirectUris__0"] = "http://127.0.0.1/signed-out",
            [$"ExternalProviders__{PeerName}__Issuer"] = $"http://127.0.0.1:{_peerPort}",
            [$"ExternalProviders__{PeerName}__ClientId"] = ExternalPeer.ClientId,
            [$"ExternalProviders__{PeerName}__ClientSecret"] = ExternalPeer.ClientSecret,
            [$"ExternalProviders__{PeerName}__DisplayName"] = PeerDisplayName,
            // Brute-force protection the device cookie test can see (HostedDeviceCookieTests): an account is delayed
            // after three failures; every other test fails at most once per fresh account.
            ["Login__Throttle__FreeFailures"] = "3",
            ["Login__Throttle__BaseDelay"] = "00:01:00",
        });
        // token-service reads the peer's discovery document at the first external sign-in, so the peer can start now,
        // with token-service's callback as its registered redirect URI.
        Peer = await ExternalPeer.StartAsync(_peerPort, new Uri(Platform.Token.BaseAddress, "/account/external/callback/" + PeerName));
        using (var http = new HttpClient())
        {
            foreach (var service in Platform.Processes.Values)
            {
                await Eventually.HoldsAsync(async () => (await http.GetAsync(new Uri(service.BaseAddress, "/health"))).IsSuccessStatusCode, TimeSpan.FromSeconds(90), $"{service.Project} healthy");
            }
        }
        RelyingParty = ServiceProcess.Start("RelyingParty", new Dictionary<string, string>
        {
            ["Oidc__Authority"] = Platform.Token.BaseAddress.ToString(),
            ["Oidc__ClientId"] = RpClientId,
            ["Oidc__ClientSecret"] = RpSecret,
            ["Api__Profile"] = Platform.Profile.BaseAddress.ToString(),
        }, RpPort);
        await RelyingParty.WaitUntilAliveAsync(TimeSpan.FromSeconds(60), "/");

        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            // This machine's network is closed: no background connections to Google's services.
            Args = ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
    }

    /// <summary>A new user signs in at the relying party (login and consent); returns the user, the session and the access token.</summary>
    public async Task<(string Sub, string Sid, string AccessToken)> SignInAtRelyingPartyAsync(IPage page)
    {
        var (email, password) = await NewUserAsync();
        await page.GotoAsync(RpUrl);
        await page.ClickAsync("#signin");
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForURLAsync(url => url.Contains("/account/consent", StringComparison.Ordinal));
        await page.ClickAsync("button[value=allow]");
        await page.WaitForURLAsync(RpUrl + "/");
        var tokens = System.Text.Json.JsonDocument.Parse(await (await page.GotoAsync(RpUrl + "/tokens"))!.TextAsync()).RootElement;
        var idToken = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(tokens.GetProperty("id_token").GetString());
        return (idToken.Subject, idToken.GetPayloadValue<string>("sid"), tokens.GetProperty("access_token").GetString()!);
    }

    /// <summary>Enrols TOTP through the JSON API (login, begin, confirm with a code computed from the secret); returns the recovery codes.</summary>
    public async Task<IReadOnlyList<string>> EnrolTotpAsync(string email, string password)
    {
        using var auth = new HttpClient { BaseAddress = Platform.Auth.BaseAddress };
        var login = await (await auth.PostAsJsonAsync("/auth/login", new { email, password })).Content.ReadFromJsonAsync<JsonElement>();
        auth.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", login.GetProperty("access_token").GetString());
        var begin = await auth.PostAsync("/auth/mfa/totp", null);
        Assert.True(begin.IsSuccessStatusCode, $"begin: {(int)begin.StatusCode}");
        var secret = (await begin.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString()!;
        var code = new Totp(Base32Encoding.ToBytes(secret)).ComputeTotp();
        var confirm = await auth.PostAsJsonAsync("/auth/mfa/totp/confirm", new { code });
        Assert.True(confirm.IsSuccessStatusCode, $"confirm: {(int)confirm.StatusCode}");
        return [.. (await confirm.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("recoveryCodes").EnumerateArray().Select(c => c.GetString()!)];
    }


    /// <summary>
    /// Catches the code flow's redirect to the native client's loopback URI on this page (the request is seen even when
    /// Chromium follows the redirect itself) and answers it, as the app's loopback listener would.
    /// </summary>
    public async Task<TaskCompletionSource<string>> CaptureNativeCallbackAsync(IBrowserContext context, IPage page)
    {
        var callback = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        page.Request += (_, request) =>
        {
            if (request.Url.StartsWith(NativeRedirect, StringComparison.Ordinal))
            {
                callback.TrySetResult(request.Url);
            }
        };
        await context.RouteAsync(NativeRedirect + "**", route => route.FulfillAsync(new RouteFulfillOptions { Status = 200, Body = "ok" }));
        return callback;
    }

    /// <summary>The callback URL, or a failure that says where the browser is instead.</summary>
    public static async Task<string> WaitForCallbackAsync(TaskCompletionSource<string> callback, IPage page, TimeSpan timeout)
    {
        try
        {
            return await callback.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"no callback; the browser is at {page.Url}: {await page.InnerTextAsync("body")}");
        }
    }

    /// <summary>A registered user (through the JSON API) with a fresh password.</summary>
    public async Task<(string Email, string Password)> NewUserAsync()
    {
        var email = $"browser-{Guid.NewGuid():N}"[..24] + "@example.test";
        var password = "Correct-Horse-" + Guid.NewGuid().ToString("N")[..12];
        using var http = new HttpClient { BaseAddress = Platform.Auth.BaseAddress };
        var response = await http.PostAsJsonAsync("/auth/register", new { email, password });
        Assert.True(response.IsSuccessStatusCode, $"register: {(int)response.StatusCode}");
        return (email, password);
    }

    /// <summary>What profile-service answers an access token: the platform's verdict on a session, on another service than the issuer.</summary>
    public async Task<System.Net.HttpStatusCode> ProfileStatusAsync(string accessToken)
    {
        using var http = new HttpClient { BaseAddress = Platform.Profile.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", accessToken);
        return (await http.GetAsync("/profiles/me")).StatusCode;
    }

    /// <summary>A count from one of this platform's databases (what was stored, or not, after an attack or a link).</summary>
    public async Task<long> CountAsync(string database, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new Npgsql.NpgsqlConnection(TestEnvironment.UniqueDatabase(database, "browser"));
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }
        Playwright?.Dispose();
        if (RelyingParty is not null)
        {
            await RelyingParty.DisposeAsync();
        }
        if (Platform is not null)
        {
            await Platform.DisposeAsync();
        }
        if (Peer is not null)
        {
            await Peer.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class HostedSignInCollection : ICollectionFixture<HostedSignInFixture>
{
    public const string Name = "hosted sign-in";
}
