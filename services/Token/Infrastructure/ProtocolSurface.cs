using System.Text.Json;
using Microsoft.AspNetCore;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using SecurePlatform.Token.Model;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace SecurePlatform.Token.Infrastructure;

/// <summary>
/// What token-service tells callers about itself, and what it tells the callers it refuses: discovery built from
/// the configured issuer and limited to what works, the access token taken from one place only, and refusals
/// that do not depend on which client or which token was presented.
/// </summary>
public static class ProtocolSurface
{
    public static OpenIddictServerBuilder AddProtocolSurfaceHandlers(this OpenIddictServerBuilder server) => server
        .AddEventHandler(EndpointsFromTheIssuer.Descriptor)
        .AddEventHandler(AdvertiseWhatWorks.Descriptor)
        .AddEventHandler(AuthorizationEndpointMembers.Descriptor)
        .AddEventHandler(AccessTokenFromTheHeaderOnly.Descriptor)
        .AddEventHandler(IntrospectionPermissionBeforeTheToken.Descriptor)
        .AddEventHandler(OneAnswerForEveryBadClient<ApplyTokenResponseContext>.Descriptor)
        .AddEventHandler(OneAnswerForEveryBadClient<ApplyIntrospectionResponseContext>.Descriptor)
        .AddEventHandler(OneAnswerForEveryBadClient<ApplyRevocationResponseContext>.Descriptor);

    /// <summary>
    /// OpenIddict builds the discovery endpoints from the request's scheme and Host; a forged Host would send
    /// clients' credentials and tokens elsewhere. With a configured issuer they are built from it.
    /// </summary>
    public sealed class EndpointsFromTheIssuer : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
                .UseSingletonHandler<EndpointsFromTheIssuer>()
                .SetOrder(OpenIddictServerHandlers.Discovery.AttachIssuer.Descriptor.Order + 500) // before AttachEndpoints
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            if (context.Options.Issuer is { } issuer)
            {
                context.BaseUri = issuer;
            }
            return default;
        }
    }

    /// <summary>
    /// Discovery lists what a client can use today: of the prompt values, the three the authorization endpoint
    /// honours (no account selection, no sign-up prompt); no client has keys for private_key_jwt; the public
    /// platform-app authenticates with none at the token and revocation endpoints.
    /// </summary>
    public sealed class AdvertiseWhatWorks : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
                .UseSingletonHandler<AdvertiseWhatWorks>()
                .SetOrder(OpenIddictServerHandlers.Discovery.AttachAdditionalMetadata.Descriptor.Order + 1_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            context.PromptValues.IntersectWith([PromptValues.Login, PromptValues.None, PromptValues.Consent]);
            foreach (var methods in new[] { context.TokenEndpointAuthenticationMethods, context.RevocationEndpointAuthenticationMethods, context.IntrospectionEndpointAuthenticationMethods, context.PushedAuthorizationEndpointAuthenticationMethods })
            {
                methods.Remove(ClientAuthenticationMethods.PrivateKeyJwt);
            }
            context.TokenEndpointAuthenticationMethods.Add(ClientAuthenticationMethods.None);
            context.RevocationEndpointAuthenticationMethods.Add(ClientAuthenticationMethods.None);
            context.PushedAuthorizationEndpointAuthenticationMethods.Add(ClientAuthenticationMethods.None); // public native apps push too
            // OpenID Connect Back-Channel Logout 1.0 (BackchannelLogoutDelivery): logout tokens carry sid.
            context.Metadata[BackchannelLogoutMetadata.Supported] = true;
            context.Metadata[BackchannelLogoutMetadata.SessionSupported] = true;
            context.Metadata[Metadata.AcrValuesSupported] = new OpenIddictParameter(JsonSerializer.SerializeToElement(AuthenticationContextClasses.Supported));
            return default;
        }
    }

    /// <summary>
    /// Members OpenIddict writes straight into the response. <c>response_types_supported</c> is required by OpenID
    /// Connect Discovery and RFC 8414; it is added should the list ever be empty (OpenIddict drops empty members).
    /// </summary>
    public sealed class AuthorizationEndpointMembers : IOpenIddictServerHandler<ApplyConfigurationResponseContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyConfigurationResponseContext>()
                .UseSingletonHandler<AuthorizationEndpointMembers>()
                .SetOrder(int.MinValue + 100_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ApplyConfigurationResponseContext context)
        {
            if (context.Response.Error is not null)
            {
                return default;
            }
            if (context.Response.GetParameter(Metadata.ResponseTypesSupported) is null)
            {
                context.Response.AddParameter(Metadata.ResponseTypesSupported, new OpenIddictParameter(JsonSerializer.SerializeToElement(Array.Empty<string>())));
            }
            return default;
        }
    }

    /// <summary>
    /// An authorization or end-session error that OpenIddict may not send back to the client — its redirect URI
    /// is unknown, unregistered or not exactly registered (RFC 6749 §4.1.2.1) — goes to our error page, never to the
    /// URI the request named. Errors for a registered URI go back to the client as OpenIddict sends them.
    /// </summary>
    public sealed class ErrorPageWhenTheClientCannotBeTold<TContext> : IOpenIddictServerHandler<TContext>
        where TContext : BaseRequestContext
    {
        /// <summary>Right after OpenIddict has decided whether the request's redirect URI may be used.</summary>
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
                .UseSingletonHandler<ErrorPageWhenTheClientCannotBeTold<TContext>>()
                .SetOrder((typeof(TContext) == typeof(ApplyEndSessionResponseContext)
                    ? OpenIddictServerHandlers.Session.AttachPostLogoutRedirectUri.Descriptor.Order
                    : OpenIddictServerHandlers.Authentication.AttachRedirectUri.Descriptor.Order) + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(TContext context)
        {
            var (error, target) = context switch
            {
                ApplyAuthorizationResponseContext authorization => (authorization.Response.Error, authorization.RedirectUri),
                ApplyEndSessionResponseContext endSession => (endSession.Response.Error, endSession.PostLogoutRedirectUri),
                _ => (null, null),
            };
            var http = context.Transaction.GetHttpRequest()?.HttpContext;
            if (error is null || !string.IsNullOrEmpty(target) || http is null)
            {
                return default;
            }
            var code = error.All(c => char.IsAsciiLetterLower(c) || c == '_') ? error : Errors.InvalidRequest;
            http.Response.StatusCode = StatusCodes.Status302Found;
            http.Response.Headers.Location = $"/account/error?error={code}";
            http.Response.Headers.CacheControl = "no-store";
            context.HandleRequest();
            return default;
        }
    }

    /// <summary>
    /// Userinfo takes the access token from the Authorization header only, as every other route does: a token
    /// in a query string ends up in logs and histories, and one in a form can be posted cross-site. A request
    /// that carries one there is refused even next to a header (RFC 6750 §3.1: more than one method).
    /// </summary>
    public sealed class AccessTokenFromTheHeaderOnly : IOpenIddictServerHandler<ExtractUserInfoRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ExtractUserInfoRequestContext>()
                .UseSingletonHandler<AccessTokenFromTheHeaderOnly>()
                // After the query/form parameters are read, before the header's token is attached.
                .SetOrder(OpenIddictServerAspNetCoreHandlers.ExtractAccessToken<ExtractUserInfoRequestContext>.Descriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ExtractUserInfoRequestContext context)
        {
            if (context.Request?.AccessToken is not null)
            {
                context.Reject(Errors.InvalidRequest, "The access token must be sent in the Authorization header only.");
            }
            return default;
        }
    }

    /// <summary>
    /// OpenIddict checks the introspection permission only after the token, so a client without it learned
    /// whether a token is valid (<c>active: false</c> or <c>unauthorized_client</c>). Checked here once the
    /// client is authenticated and before any token is looked at.
    /// </summary>
    public sealed class IntrospectionPermissionBeforeTheToken(IOpenIddictApplicationManager applications) : IOpenIddictServerHandler<ProcessAuthenticationContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessAuthenticationContext>()
                .UseScopedHandler<IntrospectionPermissionBeforeTheToken>()
                .SetOrder(OpenIddictServerHandlers.ValidateAccessToken.Descriptor.Order - 500) // after client authentication
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ProcessAuthenticationContext context)
        {
            if (context.EndpointType != OpenIddictServerEndpointType.Introspection || context.Options.IgnoreEndpointPermissions
                || string.IsNullOrEmpty(context.ClientId))
            {
                return;
            }
            var application = await applications.FindByClientIdAsync(context.ClientId, context.CancellationToken);
            if (application is not null && !await applications.HasPermissionAsync(application, Permissions.Endpoints.Introspection, context.CancellationToken))
            {
                context.Reject(Errors.UnauthorizedClient, "This client application is not allowed to use the introspection endpoint.");
            }
        }
    }

    /// <summary>
    /// OpenIddict words each client-authentication failure differently (unknown client_id, wrong secret, secret
    /// missing, secret not expected) and links each to its own error page: that tells a caller which client ids
    /// exist and what kind they are. Every one gets the same answer.
    /// </summary>
    public sealed class OneAnswerForEveryBadClient<TContext> : IOpenIddictServerHandler<TContext> where TContext : BaseRequestContext
    {
        public const string Description = "The client credentials are invalid.";

        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
                .UseSingletonHandler<OneAnswerForEveryBadClient<TContext>>()
                .SetOrder(int.MinValue + 100_000) // before the WWW-Authenticate header and the body are written
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(TContext context)
        {
            if (context.Transaction.Response is { Error: Errors.InvalidClient } response)
            {
                response.ErrorDescription = Description;
                response.ErrorUri = null;
            }
            return default;
        }
    }
}

/// <summary>Discovery members of OpenID Connect Back-Channel Logout 1.0 §2.1 (OpenIddict has no constants for them).</summary>
public static class BackchannelLogoutMetadata
{
    public const string Supported = "backchannel_logout_supported";
    public const string SessionSupported = "backchannel_logout_session_supported";
}
