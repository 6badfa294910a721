using SecurePlatform.ServiceDefaults.RateLimiting;
using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.Health;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Model;
using SecurePlatform.Token.Services;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace SecurePlatform.Token.Apis;

/// <summary>
/// The token endpoint behind OpenIddict: OpenIddict parses and validates the request (client
/// authentication, grant permissions, refresh-token signature and lifetime) and formats the response; these
/// handlers decide who gets which claims, and own sessions and refresh-token rotation.
/// </summary>
public static class TokenApi
{
    public static IEndpointRouteBuilder MapTokenApi(this IEndpointRouteBuilder app)
    {
        app.MapPost(Protocol.TokenPath, ExchangeAsync).DisableAntiforgery().RequireRateLimit(RateLimitPolicies.Token).DescribeTokenEndpoint();
        app.MapMethods("/connect/userinfo", ["GET", "POST"], UserInfoAsync).DescribeUserInfoEndpoint();
        app.MapProtocolApi();
        return app;
    }

    internal static async Task<IResult> ExchangeAsync(
        HttpContext http, SessionService sessions, SessionPolicy policy, IOpenIddictApplicationManager applications, IOptions<TokenOptions> options, TimeProvider clock,
        ISessionRevocationCheck revocation, IOptions<RevocationOptions> revocationOptions, CancellationToken cancellationToken)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("Not an OpenIddict request.");
        // A session's tokens are only worth issuing when services can check them: while the revocation store is
        // away (and the check fails closed) every service would refuse them, so say "later" instead (503,
        // Retry-After). The refresh token is not redeemed, so the client retries with the same one.
        if ((request.GrantType == Protocol.SignInGrant.GrantType || request.IsRefreshTokenGrantType() || request.IsAuthorizationCodeGrantType())
            && revocationOptions.Value is { Enabled: true, FailOpen: false } && !revocation.IsAvailable)
        {
            return TemporarilyUnavailable(http, revocationOptions.Value.RetryAfter);
        }
        if (request.GrantType == Protocol.SignInGrant.GrantType)
        {
            return await SignInAsync(request, http, sessions, policy, applications, options.Value, clock, cancellationToken);
        }
        if (request.IsAuthorizationCodeGrantType())
        {
            return await RedeemCodeAsync(http, sessions, policy, clock, cancellationToken);
        }
        if (request.IsRefreshTokenGrantType())
        {
            return await RefreshAsync(request, http, sessions, policy, clock, cancellationToken);
        }
        if (request.IsClientCredentialsGrantType())
        {
            return ClientCredentials(request);
        }
        return Error(Errors.UnsupportedGrantType, "The grant type is not supported.");
    }

    /// <summary>The platform sign-in grant: auth-service (authenticated by OpenIddict) vouches for a verified user.</summary>
    private static async Task<IResult> SignInAsync(
        OpenIddictRequest request, HttpContext http, SessionService sessions, SessionPolicy policy, IOpenIddictApplicationManager applications, TokenOptions options, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (request.ClientId != Protocol.Clients.AuthService)
        {
            return Error(Errors.UnauthorizedClient, "This client may not use the sign-in grant.");
        }
        var subject = (string?)request[Protocol.SignInGrant.Subject];
        if (string.IsNullOrWhiteSpace(subject) || subject.Length > 200)
        {
            return Error(Errors.InvalidRequest, "The subject parameter is missing or invalid.");
        }
        var targetClient = (string?)request[Protocol.SignInGrant.TargetClient] ?? options.DefaultClientId;
        var application = await applications.FindByClientIdAsync(targetClient, cancellationToken);
        if (application is null || !(await applications.GetPropertiesAsync(application, cancellationToken)).TryGetValue(ClientRegistrations.FirstPartyProperty, out var firstParty)
            || firstParty.ValueKind != JsonValueKind.True)
        {
            return Error(Errors.InvalidRequest, "The target client is not a registered first-party client.");
        }
        var amr = Words((string?)request[Protocol.SignInGrant.Amr]);
        if (amr.Length == 0)
        {
            return Error(Errors.InvalidRequest, "The amr parameter is missing.");
        }
        var roles = Words((string?)request[Protocol.SignInGrant.Roles]);
        // auth-service calls this grant right after the password (and second-factor) check, so now is the sign-in's
        // auth_time. The session keeps it: a refresh repeats it, never renews it.
        var grant = new SessionGrant(subject, targetClient, amr, roles,
            // Not an OpenID Connect sign-in (no identity token: nobody reads it, and it would cost a second RSA signature).
            [.. request.GetScopes().Intersect([Scopes.OfflineAccess, Scopes.Profile]).Append(Scopes.OfflineAccess).Distinct()],
            clock.GetUtcNow());
        // The user who proved who they are opened this session; auth-service only relays it (like its LoginSucceeded).
        var issued = await sessions.OpenAsync(
            grant, (string?)request[Protocol.SignInGrant.ClientIp], (string?)request[Protocol.SignInGrant.UserAgent], http, actor: subject, cancellationToken);
        if ((string?)request[Protocol.SignInGrant.RefreshTokenDelivery] == Protocol.SignInGrant.CookieDelivery)
        {
            OpenIddictHandlers.DeliverRefreshTokenInCookie(http);
        }
        return SignIn(http, issued, policy.RefreshTokenLifetime(issued.Session.ExpiresAt, issued.Session.CreatedAt));
    }

    /// <summary>
    /// The code flow's exchange. OpenIddict has checked the code (signature, lifetime, client, redirect URI, PKCE
    /// verifier); a code redeemed twice revokes what its first redemption issued.
    /// </summary>
    private static async Task<IResult> RedeemCodeAsync(HttpContext http, SessionService sessions, SessionPolicy policy, TimeProvider clock, CancellationToken cancellationToken)
    {
        var code = (await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal;
        var subject = code?.GetClaim(Claims.Subject);
        if (code is null || subject is null
            || !Guid.TryParse(code.GetClaim(PlatformClaims.SessionId), out var sid)
            || !Guid.TryParse(code.GetClaim(HostedSignIn.CodeClaims.Id), out var codeId))
        {
            return Error(Errors.InvalidGrant, "The authorization code is invalid.");
        }
        var clientId = http.GetOpenIddictServerRequest()!.ClientId!;
        var authTime = long.TryParse(code.GetClaim(Claims.AuthenticationTime), NumberStyles.Integer, CultureInfo.InvariantCulture, out var at)
            ? DateTimeOffset.FromUnixTimeSeconds(at) : clock.GetUtcNow();
        var grant = new SessionGrant(subject, clientId, ArrayClaim(code, PlatformClaims.Amr), ArrayClaim(code, PlatformClaims.Roles), [.. code.GetScopes()], authTime,
            code.GetClaim(Claims.Email), bool.TryParse(code.GetClaim(Claims.EmailVerified), out var verified) ? verified : null);
        var codeExpires = code.GetExpirationDate() ?? DateTimeOffset.UtcNow.AddMinutes(10);
        var issued = await sessions.OpenFromCodeAsync(
            codeId, codeExpires, sid, Guid.TryParse(code.GetClaim(HostedSignIn.CodeClaims.BrowserSession), out var bsid) ? bsid : null,
            grant, code.GetClaim(HostedSignIn.CodeClaims.ClientIp), code.GetClaim(HostedSignIn.CodeClaims.UserAgent), http, cancellationToken);
        if (issued is null)
        {
            return Error(Errors.InvalidGrant, "The authorization code has already been used.");
        }
        return SignIn(http, issued, policy.RefreshTokenLifetime(issued.Session.ExpiresAt, issued.Session.CreatedAt));
    }

    private static async Task<IResult> RefreshAsync(OpenIddictRequest request, HttpContext http, SessionService sessions, SessionPolicy policy, TimeProvider clock, CancellationToken cancellationToken)
    {
        // OpenIddict has read the opaque token (OpenIddictHandlers.ReadOpaqueRefreshTokens: well formed, its tag holds
        // for this client); the session row decides everything else.
        var principal = (await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal;
        if (principal is null
            || !Guid.TryParse(principal.GetClaim(PlatformClaims.SessionId), out var sid)
            || principal.GetClaim(OpenIddictHandlers.PresentedSecretHashClaim) is not { } hash)
        {
            return Error(Errors.InvalidGrant, "The refresh token is invalid.");
        }
        var rotation = await sessions.RotateAsync(sid, Convert.FromBase64String(hash), [.. request.GetScopes()], request.ClientId!, http, cancellationToken);
        return rotation.Decision switch
        {
            RefreshDecision.Rotate => SignIn(http, rotation.Issued!, policy.RefreshTokenLifetime(rotation.Issued!.Session.ExpiresAt, clock.GetUtcNow())),
            RefreshDecision.ScopeNotGranted => Error(Errors.InvalidScope, "The requested scope exceeds the scope granted to this session."),
            _ => Error(Errors.InvalidGrant, "The refresh token is no longer valid."),
        };
    }

    /// <summary>Service-to-service: the client is the subject; no session, no refresh token.</summary>
    private static IResult ClientCredentials(OpenIddictRequest request)
    {
        var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Subject, PlatformClaims.Roles);
        identity.SetClaim(Claims.Subject, request.ClientId);
        identity.SetClaim(Claims.JwtId, Guid.NewGuid().ToString("N"));
        identity.SetScopes(request.GetScopes().Intersect([ClientRegistrations.ApiScope]));
        identity.SetResources(PlatformClaims.Audience);
        identity.SetDestinations(static claim => claim.Type.StartsWith("oi_", StringComparison.Ordinal) ? [] : [Destinations.AccessToken]);
        return Results.SignIn(new ClaimsPrincipal(identity), authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>
    /// The tokens of <paramref name="issued"/>'s session: every claim comes from the session row, so a sign-in, a code
    /// exchange and a refresh issue the same tokens. The refresh token is the one the session row now expects.
    /// </summary>
    private static IResult SignIn(HttpContext http, IssuedSession issued, TimeSpan refreshLifetime)
    {
        var session = issued.Session;
        OpenIddictHandlers.SetRefreshToken(http, issued.RefreshToken, refreshLifetime);
        var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Subject, PlatformClaims.Roles);
        identity.SetClaim(Claims.Subject, session.Subject);
        identity.SetClaim(PlatformClaims.SessionId, session.Id.ToString());
        identity.SetClaim(Claims.JwtId, Guid.NewGuid().ToString("N"));
        // JSON arrays even with one value (RFC 8176 amr; roles for every resource server alike).
        identity.AddClaim(new Claim(PlatformClaims.Amr, JsonSerializer.Serialize(session.Amr), JsonClaimValueTypes.JsonArray));
        identity.AddClaim(new Claim(PlatformClaims.Roles, JsonSerializer.Serialize(session.Roles), JsonClaimValueTypes.JsonArray));
        identity.SetClaim(Claims.AuthenticationContextReference, AuthenticationContextClasses.For(session.Amr));
        identity.AddClaim(new Claim(Claims.AuthenticationTime, session.AuthTime.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), ClaimValueTypes.Integer64));
        if (session.Email is { } email)
        {
            identity.AddClaim(new Claim(Claims.Email, email));
        }
        if (session.EmailVerified is { } verified)
        {
            identity.AddClaim(new Claim(Claims.EmailVerified, verified ? "true" : "false", ClaimValueTypes.Boolean));
        }
        // The code flow keeps what the user granted (openid: an identity token; offline_access: a refresh token).
        var openId = session.Scopes.Contains(Scopes.OpenId);
        var emailGranted = session.Scopes.Contains(Scopes.Email);
        identity.SetScopes(session.Scopes);
        identity.SetResources(PlatformClaims.Audience);
        identity.SetPresenters(session.ClientId);
        identity.SetDestinations(claim => claim.Type switch
        {
            _ when claim.Type.StartsWith("oi_", StringComparison.Ordinal) => [], // OpenIddict's private claims
            Claims.Subject or PlatformClaims.SessionId or PlatformClaims.Amr or Claims.AuthenticationContextReference => openId ? [Destinations.AccessToken, Destinations.IdentityToken] : [Destinations.AccessToken],
            // In the access token too: resource servers check it for sensitive actions (RFC 9470).
            Claims.AuthenticationTime => openId ? [Destinations.AccessToken, Destinations.IdentityToken] : [Destinations.AccessToken],
            Claims.Email or Claims.EmailVerified => emailGranted ? [Destinations.AccessToken, Destinations.IdentityToken] : [],
            _ => [Destinations.AccessToken],
        });
        return Results.SignIn(new ClaimsPrincipal(identity), authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>OIDC userinfo: OpenIddict validated the access token; a revoked session gets nothing.</summary>
    internal static async Task<IResult> UserInfoAsync(HttpContext http, ISessionRevocationCheck revocation, ProfileServiceClient profiles)
    {
        var principal = (await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal;
        var sub = principal?.GetClaim(Claims.Subject);
        var sid = principal?.GetClaim(PlatformClaims.SessionId);
        if (principal is null || sub is null || (sid is not null && await revocation.IsRevokedAsync(sid, sub, http.RequestAborted)))
        {
            return Results.Challenge(
                new AuthenticationProperties(new Dictionary<string, string?> { [OpenIddictServerAspNetCoreConstants.Properties.Error] = Errors.InvalidToken }),
                [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        }
        var info = new Dictionary<string, object>
        {
            [Claims.Subject] = sub,
            [PlatformClaims.Roles] = ArrayClaim(principal, PlatformClaims.Roles),
            [PlatformClaims.Amr] = ArrayClaim(principal, PlatformClaims.Amr),
        };
        // By scope (OIDC Core §5.4): the email claims only when the user granted email.
        if (principal.HasScope(Scopes.Email) && principal.GetClaim(Claims.Email) is { } email)
        {
            info[Claims.Email] = email;
            info[Claims.EmailVerified] = principal.GetClaim(Claims.EmailVerified) == "true";
        }
        // The token OpenIddict took from the Authorization header (the only place it may come from here).
        if (principal.HasScope(Scopes.Profile) && http.GetOpenIddictServerRequest()?.AccessToken is { } accessToken)
        {
            foreach (var (claim, value) in await profiles.ProfileClaimsAsync(accessToken, http.RequestAborted))
            {
                info[claim] = value;
            }
        }
        return Results.Ok(info);
    }

    /// <summary>RFC 6749's <c>temporarily_unavailable</c>, as 503 with <c>Retry-After</c>.</summary>
    private static IResult TemporarilyUnavailable(HttpContext http, TimeSpan retryAfter)
    {
        DependencyOutage.SetRetryAfter(http, retryAfter);
        http.Response.Headers.CacheControl = "no-store";
        return Results.Json(
            new Dictionary<string, string> { [Parameters.Error] = Errors.TemporarilyUnavailable, [Parameters.ErrorDescription] = "Tokens cannot be issued right now. Try again in a moment." },
            statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static IResult Error(string error, string description) => Results.Forbid(
        new AuthenticationProperties(new Dictionary<string, string?>
        {
            [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
            [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
        }),
        [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);

    /// <summary>Reads a claim written as a JSON array (or, defensively, as repeated values).</summary>
    private static string[] ArrayClaim(ClaimsPrincipal principal, string type)
    {
        var values = principal.GetClaims(type);
        if (values.Length == 1 && values[0].StartsWith('['))
        {
            return JsonSerializer.Deserialize<string[]>(values[0]) ?? [];
        }
        return [.. values];
    }

    private static string[] Words(string? value) =>
        string.IsNullOrWhiteSpace(value) ? [] : value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().Take(20).ToArray();
}
