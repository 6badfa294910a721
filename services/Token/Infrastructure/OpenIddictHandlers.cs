using System.Security.Claims;
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
    private const string RefreshTokenItem = "sp_refresh_token";

    /// <summary>The SHA-256 of a presented refresh token's secret (base64), on the principal OpenIddict hands the token endpoint.</summary>
    public const string PresentedSecretHashClaim = "sp_rt_hash";

    /// <summary>This response carries its refresh token in the refresh cookie instead of the body.</summary>
    public static void DeliverRefreshTokenInCookie(HttpContext http) => http.Items[CookieModeItem] = true;

    /// <summary>
    /// The refresh token this response issues (the one the session row now expects; see <see cref="IssueOpaqueRefreshTokens"/>)
    /// and its lifetime, which the cookie's Max-Age follows.
    /// </summary>
    public static void SetRefreshToken(HttpContext http, string refreshToken, TimeSpan lifetime)
    {
        http.Items[RefreshTokenItem] = refreshToken;
        http.Items[CookieLifetimeItem] = lifetime;
    }

    /// <summary>
    /// Reads opaque refresh tokens (<see cref="OpaqueRefreshToken"/>) at the token and revocation endpoints, in place of
    /// OpenIddict's self-contained ones: a well-formed token whose tag holds for the calling client becomes a principal
    /// with its sid and the hash of its secret, and nothing else — the session row decides whether it redeems
    /// (<see cref="SessionService.RotateAsync"/>). Anything else is left to OpenIddict, which refuses it. Introspection is
    /// not served for refresh tokens: they are for the token endpoint only, and "active": false is the answer for a
    /// token the caller may not introspect (RFC 7662 §2.2).
    /// </summary>
    public sealed class ReadOpaqueRefreshTokens(KeyRing keys) : IOpenIddictServerHandler<ValidateTokenContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenContext>()
                .UseSingletonHandler<ReadOpaqueRefreshTokens>()
                .SetOrder(OpenIddictServerHandlers.Protection.ValidateIdentityModelToken.Descriptor.Order - 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateTokenContext context)
        {
            if (context.Principal is not null
                || context.EndpointType is not (OpenIddictServerEndpointType.Token or OpenIddictServerEndpointType.Revocation)
                || !context.ValidTokenTypes.Contains(TokenTypeIdentifiers.RefreshToken)
                || !OpaqueRefreshToken.TryRead(keys.RefreshTokenKey, context.Token, context.Request?.ClientId, out var sid, out var hash))
            {
                return default;
            }
            var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Subject, PlatformClaims.Roles);
            identity.SetClaim(PlatformClaims.SessionId, sid.ToString());
            identity.SetClaim(PresentedSecretHashClaim, Convert.ToBase64String(hash));
            var principal = new ClaimsPrincipal(identity)
                .SetTokenType(TokenTypeIdentifiers.RefreshToken)
                .SetPresenters(context.Request!.ClientId!); // what the tag proved
            context.Principal = principal;
            return default;
        }
    }

    /// <summary>The refresh token OpenIddict puts in the response is the opaque one the session row expects.</summary>
    public sealed class IssueOpaqueRefreshTokens : IOpenIddictServerHandler<GenerateTokenContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<GenerateTokenContext>()
                .UseSingletonHandler<IssueOpaqueRefreshTokens>()
                .SetOrder(OpenIddictServerHandlers.Protection.GenerateIdentityModelToken.Descriptor.Order - 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(GenerateTokenContext context)
        {
            if (context.TokenType == TokenTypeIdentifiers.RefreshToken)
            {
                context.Token = context.Transaction.GetHttpRequest()?.HttpContext.Items[RefreshTokenItem] as string
                    ?? throw new InvalidOperationException("A refresh token is being issued without a session (TokenApi.SignIn sets it).");
            }
            return default;
        }
    }

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
    /// from JWKS; identity tokens too (OpenIddict's rule). Tokens only token-service reads back (authorization codes,
    /// request tokens) are signed with the ring's HMAC key instead: they are also encrypted with the ring's AES key,
    /// and an RSA signature would be a second asymmetric signature per sign-in for nothing a client can check
    /// (cost: bench/README.md). Refresh tokens are opaque and not signed at all (<see cref="IssueOpaqueRefreshTokens"/>).
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
                TokenTypeIdentifiers.IdentityToken => context.SigningCredentials,
                _ => all.Find(c => c.Key is SymmetricSecurityKey) ?? context.SigningCredentials,
            };
            return default;
        }
    }
}
