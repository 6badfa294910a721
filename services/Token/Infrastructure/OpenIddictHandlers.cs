using Microsoft.AspNetCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.Security;
using SecurePlatform.Token.Model;
using SecurePlatform.Token.Services;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace SecurePlatform.Token.Infrastructure;

/// <summary>Where the platform extends OpenIddict's pipeline.</summary>
public static class OpenIddictHandlers
{
    private const string CookieModeItem = "sp_refresh_cookie";
    private const string CookieLifetimeItem = "sp_refresh_cookie_lifetime";

    /// <summary>This response carries its refresh token in the refresh cookie instead of the body.</summary>
    public static void DeliverRefreshTokenInCookie(HttpContext http) => http.Items[CookieModeItem] = true;

    /// <summary>The lifetime of the refresh token being issued, which the cookie's Max-Age follows.</summary>
    public static void SetRefreshCookieLifetime(HttpContext http, TimeSpan lifetime) => http.Items[CookieLifetimeItem] = lifetime;

    /// <summary>
    /// Browser mode: a refresh request without a refresh_token parameter takes it from the HttpOnly cookie, but
    /// only when it carries the custom header, which a cross-site form cannot send.
    /// </summary>
    public sealed class RefreshTokenFromCookie : IOpenIddictServerHandler<ExtractTokenRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ExtractTokenRequestContext>()
                .UseSingletonHandler<RefreshTokenFromCookie>()
                .SetOrder(int.MaxValue - 100_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ExtractTokenRequestContext context)
        {
            var http = context.Transaction.GetHttpRequest();
            if (context.Request is { GrantType: GrantTypes.RefreshToken, RefreshToken: null } request && http is not null
                && http.Headers[Protocol.RefreshCookie.RequestHeader] == "1"
                && http.Cookies.TryGetValue(Protocol.RefreshCookie.Name, out var token) && !string.IsNullOrEmpty(token))
            {
                request.RefreshToken = token;
                DeliverRefreshTokenInCookie(http.HttpContext);
            }
            return default;
        }
    }

    /// <summary>In browser mode the issued or rotated refresh token goes in the cookie, never in the body.</summary>
    public sealed class RefreshTokenToCookie(IOptions<TokenOptions> options) : IOpenIddictServerHandler<ApplyTokenResponseContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyTokenResponseContext>()
                .UseSingletonHandler<RefreshTokenToCookie>()
                .SetOrder(int.MinValue + 100_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ApplyTokenResponseContext context)
        {
            var http = context.Transaction.GetHttpRequest()?.HttpContext;
            if (http is null || !http.Items.ContainsKey(CookieModeItem))
            {
                return default;
            }
            if (context.Response.RefreshToken is { } refreshToken)
            {
                var lifetime = http.Items[CookieLifetimeItem] as TimeSpan? ?? options.Value.SessionIdleTimeout;
                RefreshCookie.Issue(http.Response, refreshToken, lifetime);
                context.Response.RefreshToken = null;
            }
            else if (context.Response.Error is not null)
            {
                RefreshCookie.Clear(http.Response);
            }
            return default;
        }
    }

    /// <summary>
    /// Tokens of a sign-in belong to the first-party app they were issued for (their presenter), not to
    /// auth-service, which only asked for them: their <c>client_id</c> says so, as it does after a refresh.
    /// </summary>
    public sealed class AccessTokensBelongToTheirApp : IOpenIddictServerHandler<ProcessSignInContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
                .UseSingletonHandler<AccessTokensBelongToTheirApp>()
                .SetOrder(OpenIddictServerHandlers.PrepareAccessTokenPrincipal.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ProcessSignInContext context)
        {
            if (context.Request?.GrantType == Protocol.SignInGrant.GrantType && context.AccessTokenPrincipal is { } principal
                && principal.GetPresenters().FirstOrDefault() is { } app)
            {
                principal.SetClaim(Claims.ClientId, app);
            }
            return default;
        }
    }

    /// <summary>
    /// RFC 7009 without token storage: revoking a refresh or access token revokes its session (so every
    /// service refuses its access tokens within the second). Replaces OpenIddict's token-entry revocation.
    /// </summary>
    public sealed class RevokeSession(SessionService sessions) : IOpenIddictServerHandler<HandleRevocationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<HandleRevocationRequestContext>()
                .UseScopedHandler<RevokeSession>()
                .SetOrder(OpenIddictServerHandlers.Revocation.RevokeToken.Descriptor.Order)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(HandleRevocationRequestContext context)
        {
            var principal = context.GenericTokenPrincipal;
            if (principal is not null && Guid.TryParse(principal.GetClaim(PlatformClaims.SessionId), out var sid))
            {
                var http = context.Transaction.GetHttpRequest()?.HttpContext;
                await sessions.RevokeAsync(sid, RevocationReasons.UserRequest, principal.GetClaim(Claims.Subject), http, context.Request.ClientId ?? "unknown", context.CancellationToken);
            }
        }
    }

    /// <summary>RFC 7662: a token of a revoked session is inactive, whatever its signature says.</summary>
    public sealed class RejectRevokedSessions(ISessionRevocationCheck revocation) : IOpenIddictServerHandler<HandleIntrospectionRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<HandleIntrospectionRequestContext>()
                .UseSingletonHandler<RejectRevokedSessions>()
                .SetOrder(OpenIddictServerHandlers.Introspection.AttachPrincipal.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(HandleIntrospectionRequestContext context)
        {
            var sid = context.GenericTokenPrincipal?.GetClaim(PlatformClaims.SessionId);
            var sub = context.GenericTokenPrincipal?.GetClaim(Claims.Subject);
            if (sid is not null && sub is not null && await revocation.IsRevokedAsync(sid, sub, context.CancellationToken))
            {
                context.Reject(error: Errors.InvalidToken, description: "The token is no longer valid.");
            }
        }
    }

    /// <summary>
    /// Access tokens are signed with the active published key (RS256/PS256/ES256), which resource servers verify
    /// from JWKS. Tokens only token-service reads back (refresh tokens) are signed with the ring's HMAC key
    /// instead: they are also encrypted with the ring's AES key, and an RSA signature would be a whole second
    /// asymmetric signature per refresh and per sign-in for nothing a client can check (cost: bench/README.md).
    /// </summary>
    public sealed class SignTokensByAudience(KeyRing keys) : IOpenIddictServerHandler<GenerateTokenContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<GenerateTokenContext>()
                .UseSingletonHandler<SignTokensByAudience>()
                .SetOrder(OpenIddictServerHandlers.Protection.AttachSecurityCredentials.Descriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(GenerateTokenContext context)
        {
            var all = context.Options.SigningCredentials;
            context.SigningCredentials = context.TokenType switch
            {
                TokenTypeIdentifiers.AccessToken => all.Find(c => c.Key is AsymmetricSecurityKey && c.Key.KeyId == keys.ActiveKeyId)
                    ?? all.First(c => c.Key is AsymmetricSecurityKey),
                TokenTypeIdentifiers.RefreshToken => all.Find(c => c.Key is SymmetricSecurityKey) ?? context.SigningCredentials,
                _ => context.SigningCredentials, // identity tokens stay asymmetric (OpenIddict's own rule)
            };
            return default;
        }
    }
}
