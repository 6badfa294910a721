using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SecurePlatform.ServiceDefaults.Health;

namespace SecurePlatform.ServiceDefaults.Auth;

/// <summary>
/// Marks an endpoint that may run for a validly signed, unexpired token whose session cannot be checked right
/// now (the revocation store is down): only endpoints that end sessions, whose effect is the same whether or
/// not the session was already revoked. The handler can ask <see cref="RevocationUnavailable.WasUnchecked"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class)]
public sealed class AllowUncheckedRevocationAttribute : Attribute;

/// <summary>What happens to a request whose session could not be checked.</summary>
public static class RevocationUnavailable
{
    private static readonly object UnavailableKey = new();
    private static readonly object UncheckedKey = new();

    /// <summary>Lets the endpoint run for a token whose session cannot be checked now (see <see cref="AllowUncheckedRevocationAttribute"/>).</summary>
    public static TBuilder AllowUncheckedRevocation<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
        => builder.WithMetadata(new AllowUncheckedRevocationAttribute());

    /// <summary>True when this request's token was accepted without a revocation check (the store was down).</summary>
    public static bool WasUnchecked(HttpContext http) => http.Items.ContainsKey(UncheckedKey);

    internal static void MarkUnchecked(HttpContext http) => http.Items[UncheckedKey] = true;

    internal static void MarkUnavailable(HttpContext http) => http.Items[UnavailableKey] = true;

    /// <summary>JwtBearer's challenge: a token refused because its session could not be checked gets 503 problem+json with Retry-After.</summary>
    internal static async Task ChallengeAsync(JwtBearerChallengeContext context)
    {
        if (!context.HttpContext.Items.ContainsKey(UnavailableKey))
        {
            return;
        }
        context.HandleResponse();
        var retryAfter = context.HttpContext.RequestServices.GetRequiredService<IOptions<RevocationOptions>>().Value.RetryAfter;
        await DependencyOutage.WriteProblemAsync(context.HttpContext, retryAfter);
    }
}
