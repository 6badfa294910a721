using System.Text.Json;
using Microsoft.AspNetCore;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
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
        .AddEventHandler(AccessTokenFromTheHeaderOnly.Descriptor);

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
}
