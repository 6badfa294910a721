using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.WebUtilities;

namespace SecurePlatform.Browser.Tests;

/// <summary>
/// The authorization code flow over plain HTTP, as a browser would follow it (a cookie jar, redirects read one by
/// one): for attack tests that must see each Location header. Pages are read for their antiforgery tokens.
/// </summary>
public sealed partial class CodeFlowClient : IDisposable
{
    private readonly HttpClient _http;

    public CodeFlowClient(Uri tokenService)
    {
        Cookies = new CookieContainer();
        _http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = Cookies }) { BaseAddress = tokenService };
    }

    public CookieContainer Cookies { get; }

    public HttpClient Http => _http;

    public static (string Verifier, string Challenge) NewPkce()
    {
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        return (verifier, Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))));
    }

    public static string Base64Url(byte[] bytes) => WebEncoders.Base64UrlEncode(bytes);

    public static string AuthorizeUrl(IDictionary<string, string?> parameters) =>
        QueryHelpers.AddQueryString("/connect/authorize", parameters);

    public Task<HttpResponseMessage> GetAsync(string url) => _http.GetAsync(url);

    /// <summary>Signs in on the hosted login page the authorize request led to; returns the response to the login POST.</summary>
    public async Task<HttpResponseMessage> SignInAsync(HttpResponseMessage toLogin, string email, string password)
    {
        Assert.Equal(HttpStatusCode.Redirect, toLogin.StatusCode);
        var loginUrl = toLogin.Headers.Location!.ToString();
        Assert.StartsWith("/account/login", loginUrl, StringComparison.Ordinal);
        var page = await _http.GetStringAsync(loginUrl);
        var returnUrl = WebUtility.HtmlDecode(ReturnUrlField().Match(page).Groups[1].Value);
        return await _http.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = AntiforgeryToken(page),
            ["returnUrl"] = returnUrl,
            ["login_hint"] = email,
            ["password"] = password,
        }));
    }

    /// <summary>Follows same-origin redirects until one leaves token-service; returns that response.</summary>
    public async Task<HttpResponseMessage> FollowAsync(HttpResponseMessage response)
    {
        for (var i = 0; i < 10 && response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther
            && response.Headers.Location is { IsAbsoluteUri: false } next; i++)
        {
            response = await _http.GetAsync(next);
        }
        return response;
    }

    /// <summary>The full sign-in of a first-party client: authorize, login, back to the redirect URI with a code.</summary>
    public async Task<Uri> CodeAsync(IDictionary<string, string?> parameters, string email, string password)
    {
        var toLogin = await _http.GetAsync(AuthorizeUrl(parameters));
        var afterLogin = await FollowAsync(await SignInAsync(toLogin, email, password));
        Assert.Equal(HttpStatusCode.Redirect, afterLogin.StatusCode);
        return afterLogin.Headers.Location!;
    }

    public async Task<(HttpStatusCode Status, JsonElement Body)> RedeemAsync(string clientId, string code, string redirectUri, string? verifier)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["client_id"] = clientId, ["code"] = code, ["redirect_uri"] = redirectUri };
        if (verifier is not null)
        {
            form["code_verifier"] = verifier;
        }
        using var client = new HttpClient { BaseAddress = _http.BaseAddress };
        var response = await client.PostAsync("/connect/token", new FormUrlEncodedContent(form));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement);
    }

    public static Dictionary<string, string> Query(Uri uri) =>
        QueryHelpers.ParseQuery(uri.Query).ToDictionary(p => p.Key, p => p.Value.ToString(), StringComparer.Ordinal);

    public static string AntiforgeryToken(string page) => AntiforgeryField().Match(page).Groups[1].Value;

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();

    [GeneratedRegex("name=\"returnUrl\" value=\"([^\"]*)\"")]
    private static partial Regex ReturnUrlField();

    public void Dispose() => _http.Dispose();
}
