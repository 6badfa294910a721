using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Model;
using SecurePlatform.Token.Services;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace SecurePlatform.Token.Apis;

/// <summary>
/// The authorization code flow's browser side behind OpenIddict, which has already validated the client, the
/// exact redirect URI, the response type and PKCE (S256 only). These handlers decide whether the user must sign in
/// (or again: prompt=login, max_age) or consent, and what the code carries; end-session ends the browser's sign-in
/// and every session it opened.
/// </summary>
public static class AuthorizationApi
{
    public static IEndpointRouteBuilder MapAuthorizationApi(this IEndpointRouteBuilder app)
    {
        app.MapMethods(HostedSignIn.AuthorizePath, ["GET", "POST"], AuthorizeAsync).DisableAntiforgery().ExcludeFromDescription();
        app.MapMethods(HostedSignIn.EndSessionPath, ["GET", "POST"], EndSessionAsync).DisableAntiforgery().ExcludeFromDescription();
        return app;
    }

    internal static async Task<IResult> AuthorizeAsync(HttpContext http, IOpenIddictApplicationManager applications, TokenDbContext db, TimeProvider clock)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("Not an OpenIddict request.");
        AllowFormPost(http, request);
        var parameters = request.GetParameters().ToDictionary(p => p.Key, p => (string?)p.Value ?? "", StringComparer.Ordinal);
        var user = (await http.AuthenticateAsync(HostedSignIn.Scheme)).Principal;

        var now = clock.GetUtcNow();
        var mustSignIn = user is null
            || request.HasPromptValue(PromptValues.Login)
            || (request.MaxAge is { } maxAge && (HostedSignIn.AuthTime(user) is not { } authTime || now - authTime > TimeSpan.FromSeconds(maxAge)));
        if (mustSignIn)
        {
            if (request.HasPromptValue(PromptValues.None))
            {
                return Forbid(Errors.LoginRequired, "The user is not signed in.");
            }
            var returnUrl = HostedSignIn.Rebuild(HostedSignIn.AuthorizePath, parameters);
            var hint = request.LoginHint is { Length: > 0 and <= 320 } loginHint ? "&login_hint=" + Uri.EscapeDataString(loginHint) : "";
            return Results.Redirect($"{HostedSignIn.LoginPath}?returnUrl={Uri.EscapeDataString(returnUrl)}{hint}");
        }

        var application = await applications.FindByClientIdAsync(request.ClientId!) ?? throw new InvalidOperationException("OpenIddict validated the client.");
        var subject = user!.FindFirstValue(Claims.Subject)!;
        var scopes = request.GetScopes();
        if (await applications.GetConsentTypeAsync(application) == ConsentTypes.Explicit)
        {
            if (http.Request.Query.ContainsKey(HostedSignIn.DeniedFlag))
            {
                return Forbid(Errors.AccessDenied, "The user declined.");
            }
            var grant = await db.Grants.AsNoTracking().FirstOrDefaultAsync(g => g.Subject == subject && g.ClientId == request.ClientId);
            if (grant is null || !grant.Covers(scopes) || request.HasPromptValue(PromptValues.Consent))
            {
                if (request.HasPromptValue(PromptValues.None))
                {
                    return Forbid(Errors.ConsentRequired, "The user has not consented.");
                }
                var returnUrl = HostedSignIn.Rebuild(HostedSignIn.AuthorizePath, parameters);
                return Results.Redirect($"{HostedSignIn.ConsentPath}?returnUrl={Uri.EscapeDataString(returnUrl)}");
            }
        }
        return Results.SignIn(CodePrincipal(user!, scopes, http, now), authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>The one inline script of OpenIddict's response_mode=form_post page (ASP.NET Core's OpenIdConnect handler asks for that mode).</summary>
    private static readonly string FormPostScriptHash =
        "'sha256-" + Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData("document.form.submit();"u8)) + "'";

    /// <summary>
    /// The response to a validated authorization request may be OpenIddict's auto-submitting form to the client's
    /// redirect URI: its policy allows exactly that script (by hash) and that form target, nothing else.
    /// </summary>
    private static void AllowFormPost(HttpContext http, OpenIddictRequest request)
    {
        if (Uri.TryCreate(request.RedirectUri, UriKind.Absolute, out var target) && target.Scheme is "https" or "http")
        {
            http.Response.Headers.ContentSecurityPolicy =
                $"default-src 'none'; script-src {FormPostScriptHash}; form-action {target.GetLeftPart(UriPartial.Authority)}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";
        }
    }

    /// <summary>What the code carries: the user, a session id chosen now (opened at redemption), and how to reach them.</summary>
    private static ClaimsPrincipal CodePrincipal(ClaimsPrincipal user, IEnumerable<string> scopes, HttpContext http, DateTimeOffset now)
    {
        var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Subject, PlatformClaims.Roles);
        identity.SetClaim(Claims.Subject, user.FindFirstValue(Claims.Subject));
        identity.SetClaim(PlatformClaims.SessionId, Guid.CreateVersion7(now).ToString());
        identity.SetClaim(Claims.AuthenticationTime, (HostedSignIn.AuthTime(user) ?? now).ToUnixTimeSeconds());
        identity.AddClaim(new Claim(PlatformClaims.Amr, user.FindFirstValue(PlatformClaims.Amr) ?? "[]", JsonClaimValueTypes.JsonArray));
        identity.AddClaim(new Claim(PlatformClaims.Roles, user.FindFirstValue(PlatformClaims.Roles) ?? "[]", JsonClaimValueTypes.JsonArray));
        if (user.FindFirstValue(Claims.Email) is { } email)
        {
            identity.SetClaim(Claims.Email, email);
            identity.SetClaim(Claims.EmailVerified, user.FindFirstValue(HostedSignIn.Claims.EmailVerified) == "true");
        }
        identity.SetClaim(HostedSignIn.CodeClaims.Id, Guid.NewGuid().ToString());
        identity.SetClaim(HostedSignIn.CodeClaims.BrowserSession, user.FindFirstValue(HostedSignIn.Claims.BrowserSession));
        identity.SetClaim(HostedSignIn.CodeClaims.ClientIp, Messaging.EventStamping.ClientAddress(http));
        identity.SetClaim(HostedSignIn.CodeClaims.UserAgent, Messaging.EventStamping.UserAgent(http));
        identity.SetScopes(scopes);
        identity.SetResources(PlatformClaims.Audience);
        return new ClaimsPrincipal(identity);
    }

    internal static async Task<IResult> EndSessionAsync(HttpContext http, SessionService sessions, CancellationToken cancellationToken)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("Not an OpenIddict request.");
        var user = (await http.AuthenticateAsync(HostedSignIn.Scheme)).Principal;
        // OpenIddict validated id_token_hint (signature, issuer; expiry does not matter here) and that the
        // post_logout_redirect_uri is registered for the client it names.
        var hint = request.IdTokenHint is null ? null : (await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal;
        if (user is not null)
        {
            if (hint?.GetClaim(Claims.Subject) != user.FindFirstValue(Claims.Subject))
            {
                // No proof that the client asking is the user's (a logout CSRF): the user confirms on our page,
                // which signs out and comes back here without the cookie.
                var parameters = request.GetParameters().ToDictionary(p => p.Key, p => (string?)p.Value ?? "", StringComparer.Ordinal);
                return Results.Redirect($"{HostedSignIn.LogoutPath}?returnUrl={Uri.EscapeDataString(HostedSignIn.Rebuild(HostedSignIn.EndSessionPath, parameters))}");
            }
            await SignOutAsync(http, user, sessions, cancellationToken);
        }
        // The session the identity token names ends too, even without the cookie (another browser, cleared cookies).
        if (hint?.GetClaim(PlatformClaims.SessionId) is { } sid && Guid.TryParse(sid, out var sessionId))
        {
            await sessions.RevokeAsync(sessionId, RevocationReasons.Logout, hint.GetClaim(Claims.Subject), http, request.ClientId ?? "end_session", cancellationToken);
        }
        return Results.SignOut(authenticationSchemes: [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
    }

    /// <summary>Ends the browser's sign-in: every session it opened (on every service within the second), then the cookie.</summary>
    internal static async Task SignOutAsync(HttpContext http, ClaimsPrincipal user, SessionService sessions, CancellationToken cancellationToken)
    {
        if (Guid.TryParse(user.FindFirstValue(HostedSignIn.Claims.BrowserSession), out var browserSession))
        {
            await sessions.RevokeBrowserSessionAsync(browserSession, user.FindFirstValue(Claims.Subject)!, http, cancellationToken);
        }
        await http.SignOutAsync(HostedSignIn.Scheme);
    }

    private static IResult Forbid(string error, string description) => Results.Forbid(
        new AuthenticationProperties(new Dictionary<string, string?>
        {
            [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
            [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
        }),
        [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
}
