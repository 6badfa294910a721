using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using Duende.IdentityModel.OidcClient;
using Duende.IdentityModel.OidcClient.Browser;
using Duende.IdentityModel.OidcClient.Results;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Microsoft.Playwright;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Browser.Tests;

/// <summary>
/// A public native client with Duende's OidcClient (RFC 8252: code + PKCE, loopback redirect on whatever port the
/// app got), its browser being headless Chromium.
/// </summary>
[Collection(HostedSignInCollection.Name)]
public class NativeAppTests(HostedSignInFixture fixture)
{
    [Fact]
    public async Task A_native_app_signs_in_with_pkce_and_a_loopback_redirect_on_any_port_refreshes_and_signs_out()
    {
        var (email, password) = await fixture.NewUserAsync();
        var port = ServiceProcess.FreePort(); // the app's own: not the one registered
        await using var context = await fixture.Browser.NewContextAsync();
        var browser = new ChromiumLoginBrowser(context, email, password);
        var client = new OidcClient(new OidcClientOptions
        {
            Authority = fixture.Platform.Token.BaseAddress.ToString(),
            ClientId = HostedSignInFixture.CliClientId,
            RedirectUri = $"http://127.0.0.1:{port}/callback",
            PostLogoutRedirectUri = $"http://127.0.0.1:{port}/signed-out",
            Scope = "openid email offline_access api",
            Browser = browser,
            IdentityTokenValidator = new JwksIdentityTokenValidator(),
            LoadProfile = false,
            Policy = new Policy { Discovery = { RequireHttps = false } },
        });

        var login = await client.LoginAsync(new LoginRequest());
        Assert.False(login.IsError, login.Error + " " + login.ErrorDescription);
        Assert.Equal(email, login.User.FindFirst("email")?.Value);
        Assert.NotNull(login.RefreshToken);
        Assert.Equal(HttpStatusCode.OK, await fixture.ProfileStatusAsync(login.AccessToken));

        var refreshed = await client.RefreshTokenAsync(login.RefreshToken);
        Assert.False(refreshed.IsError, refreshed.Error);
        Assert.NotEqual(login.RefreshToken, refreshed.RefreshToken); // rotated
        Assert.Equal(HttpStatusCode.OK, await fixture.ProfileStatusAsync(refreshed.AccessToken));

        var logout = await client.LogoutAsync(new LogoutRequest { IdTokenHint = login.IdentityToken });
        Assert.False(logout.IsError, logout.Error);
        Assert.StartsWith($"http://127.0.0.1:{port}/signed-out", browser.LastEndUrl, StringComparison.Ordinal);
        await Eventually.HoldsAsync(async () => await fixture.ProfileStatusAsync(refreshed.AccessToken) == HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(1), "signed out everywhere");
    }


    /// <summary>OidcClient's browser: Chromium opens the start URL, signs in on the hosted page, and the loopback redirect is caught.</summary>
    private sealed class ChromiumLoginBrowser(IBrowserContext context, string email, string password) : Duende.IdentityModel.OidcClient.Browser.IBrowser
    {
        public string LastEndUrl { get; private set; } = "";

        public async Task<BrowserResult> InvokeAsync(BrowserOptions options, CancellationToken cancellationToken = default)
        {
            var page = await context.NewPageAsync();
            var arrived = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            // The app's loopback listener: nothing else may see the code.
            await context.RouteAsync(url => url.StartsWith(options.EndUrl, StringComparison.Ordinal), async route =>
            {
                arrived.TrySetResult(route.Request.Url);
                await route.FulfillAsync(new RouteFulfillOptions { Status = 200, Body = "You can close this window." });
            });
            var seen = new List<string>();
            page.Request += (_, request) =>
            {
                seen.Add(request.Url.Length > 120 ? request.Url[..120] : request.Url);
                // A redirect to the loopback URI is not routed (Chromium follows it itself): seeing the request is enough.
                if (request.Url.StartsWith(options.EndUrl, StringComparison.Ordinal))
                {
                    arrived.TrySetResult(request.Url);
                }
            };
            try
            {
                await page.GotoAsync(options.StartUrl);
            }
            catch (PlaywrightException) when (arrived.Task.IsCompleted)
            {
                // The navigation ended at the loopback "listener" (fulfilled above): that is the result.
            }
            catch (PlaywrightException ex)
            {
                throw new InvalidOperationException($"{ex.Message[..60]}; requests: {string.Join(" -> ", seen)}; expected {options.EndUrl}", ex);
            }
            if (page.Url.Contains("/account/login", StringComparison.Ordinal))
            {
                await page.FillAsync("#email", email);
                await page.FillAsync("#password", password);
                await page.ClickAsync("button[type=submit]");
            }
            string end;
            try
            {
                end = await arrived.Task.WaitAsync(TimeSpan.FromSeconds(20), cancellationToken);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"never reached {options.EndUrl}; the browser is at {page.Url}");
            }
            LastEndUrl = end;
            await page.CloseAsync();
            return new BrowserResult { ResultType = BrowserResultType.Success, Response = end };
        }
    }

    /// <summary>Checks the identity token against the provider's JWKS: signature, issuer, audience (the client), lifetime.</summary>
    private sealed class JwksIdentityTokenValidator : IIdentityTokenValidator
    {
        public async Task<IdentityTokenValidationResult> ValidateAsync(string identityToken, OidcClientOptions options, CancellationToken cancellationToken = default)
        {
            using var http = new HttpClient();
            var jwks = new JsonWebKeySet(await http.GetStringAsync(new Uri(new Uri(options.Authority), ".well-known/jwks"), cancellationToken));
            var result = await new JsonWebTokenHandler().ValidateTokenAsync(identityToken, new TokenValidationParameters
            {
                ValidIssuer = options.Authority,
                ValidAudience = options.ClientId,
                IssuerSigningKeys = jwks.GetSigningKeys(),
                ValidAlgorithms = ["RS256", "PS256", "ES256"],
            });
            return result.IsValid
                ? new IdentityTokenValidationResult { User = new ClaimsPrincipal(result.ClaimsIdentity), SignatureAlgorithm = ((JsonWebToken)result.SecurityToken).Alg }
                : new IdentityTokenValidationResult { Error = result.Exception?.Message ?? "invalid identity token" };
        }
    }
}
