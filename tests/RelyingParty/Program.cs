using System.Net.Http.Headers;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using SecurePlatform.RelyingParty;

// A third-party web app signing its users in with SecurePlatform: confidential client, authorization code + PKCE.
// Configuration: Oidc:Authority, Oidc:ClientId, Oidc:ClientSecret, Api:Profile (profile-service's base URL).
var builder = WebApplication.CreateBuilder(args);
var oidc = builder.Configuration.GetSection("Oidc");

builder.Services.AddAuthentication(options =>
    {
        options.DefaultScheme = CookieAuthenticationDefaults.AuthenticationScheme;
        options.DefaultChallengeScheme = OpenIdConnectDefaults.AuthenticationScheme;
    })
    .AddCookie(cookie =>
    {
        cookie.Cookie.Name = "rp_session";
        // A session the provider ended through the back channel is over here too.
        cookie.Events.OnValidatePrincipal = context =>
        {
            if (context.HttpContext.RequestServices.GetRequiredService<BackchannelLogouts>().HasEnded(context.Principal?.FindFirst("sid")?.Value))
            {
                context.RejectPrincipal();
                return context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            }
            return Task.CompletedTask;
        };
    })
    .AddOpenIdConnect(options =>
    {
        options.Authority = oidc["Authority"];
        options.RequireHttpsMetadata = !builder.Environment.IsDevelopment();
        options.ClientId = oidc["ClientId"];
        options.ClientSecret = oidc["ClientSecret"];
        options.ResponseType = "code";
        options.UsePkce = true;
        options.SaveTokens = true;
        options.MapInboundClaims = false;
        options.Scope.Clear();
        foreach (var scope in new[] { "openid", "profile", "email", "offline_access", "api" })
        {
            options.Scope.Add(scope);
        }
        options.TokenValidationParameters.NameClaimType = "sub";
    });
builder.Services.AddAuthorization();
builder.Services.AddHttpClient();
builder.Services.AddSingleton<BackchannelLogouts>();

var app = builder.Build();
app.UseAuthentication();
app.UseAuthorization();

app.MapGet("/", (HttpContext http) =>
{
    var user = http.User.Identity?.IsAuthenticated == true ? http.User : null;
    var body = user is null
        ? "<p id=status>Signed out</p><a id=signin href=/signin>Sign in with SecurePlatform</a>"
        : $"<p id=status>Signed in as <span id=sub>{HtmlEncoder.Default.Encode(user.FindFirst("sub")?.Value ?? "")}</span></p>"
          + $"<p>Email: <span id=email>{HtmlEncoder.Default.Encode(user.FindFirst("email")?.Value ?? "")}</span></p>"
          + "<a id=profile href=/profile>My profile</a> <a id=refresh href=/refresh>Refresh tokens</a> <a id=signout href=/signout>Sign out</a>";
    return Results.Content($"<!DOCTYPE html><html lang=en><title>Example Notes</title><body>{body}</body></html>", "text/html");
});

app.MapGet("/signin", () => Results.Challenge(new AuthenticationProperties { RedirectUri = "/" }));

// The access token at work: profile-service, with the token the sign-in returned.
app.MapGet("/profile", async (HttpContext http, IHttpClientFactory clients) =>
{
    var token = await http.GetTokenAsync("access_token");
    using var client = clients.CreateClient();
    using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(app.Configuration["Api:Profile"]!), "/profiles/me"));
    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
    using var response = await client.SendAsync(request);
    return Results.Text($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
}).RequireAuthorization();

// A refresh by hand (the handler does not refresh): the standard refresh_token grant, tokens stored again.
app.MapGet("/refresh", async (HttpContext http, IHttpClientFactory clients) =>
{
    var result = await http.AuthenticateAsync();
    var refreshToken = result.Properties?.GetTokenValue("refresh_token");
    using var client = clients.CreateClient();
    using var response = await client.PostAsync(new Uri(new Uri(oidc["Authority"]!), "/connect/token"), new FormUrlEncodedContent(new Dictionary<string, string>
    {
        ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken ?? "",
        ["client_id"] = oidc["ClientId"]!, ["client_secret"] = oidc["ClientSecret"]!,
    }));
    var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
    if (response.IsSuccessStatusCode && result.Properties is not null)
    {
        result.Properties.UpdateTokenValue("access_token", json.GetProperty("access_token").GetString()!);
        result.Properties.UpdateTokenValue("refresh_token", json.GetProperty("refresh_token").GetString()!);
        await http.SignInAsync(result.Principal!, result.Properties);
    }
    return Results.Text($"{(int)response.StatusCode}");
}).RequireAuthorization();

// The current tokens, for the tests to check them against the platform afterwards.
app.MapGet("/tokens", async Task<IResult> (HttpContext http) => Results.Json(new
{
    access_token = await http.GetTokenAsync("access_token"),
    refresh_token = await http.GetTokenAsync("refresh_token"),
    id_token = await http.GetTokenAsync("id_token"),
})).RequireAuthorization();

// OpenID Connect Back-Channel Logout 1.0 (registered as the client's backchannel_logout_uri), plus what the tests read.
app.MapPost("/backchannel-logout", (HttpContext http, BackchannelLogouts logouts, Microsoft.Extensions.Options.IOptionsMonitor<OpenIdConnectOptions> oidc) => logouts.ReceiveAsync(http, oidc));
app.MapGet("/backchannel-logouts", (BackchannelLogouts logouts) => Results.Json(logouts.Received));
app.MapPost("/backchannel-logout/fail-next", (string sid, int count, BackchannelLogouts logouts) => { logouts.FailNext(sid, count); return Results.NoContent(); });

app.MapGet("/signout", () => Results.SignOut(
    new AuthenticationProperties { RedirectUri = "/" },
    [CookieAuthenticationDefaults.AuthenticationScheme, OpenIdConnectDefaults.AuthenticationScheme]));

app.Run();
