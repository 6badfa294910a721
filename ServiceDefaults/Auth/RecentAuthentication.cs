using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SecurePlatform.ServiceDefaults.Security;

namespace SecurePlatform.ServiceDefaults.Auth;

/// <summary>
/// Sensitive actions (password change, MFA disable, recovery-code regeneration) need a sign-in within
/// <c>Security:RecentAuthenticationWindow</c>: a stolen or long-lived session alone cannot take the account over.
/// The answer otherwise is RFC 9470's step-up challenge, so a client knows to sign in again.
/// </summary>
public static class RecentAuthentication
{
    public const string AuthTimeClaim = "auth_time";

    /// <summary>RFC 9470 §3: the error code of the step-up challenge.</summary>
    public const string InsufficientUserAuthentication = "insufficient_user_authentication";

    /// <summary>When the token's user proved who they are (<c>auth_time</c>, seconds since the epoch); null if absent or unreadable.</summary>
    public static DateTimeOffset? AuthTimeOf(ClaimsPrincipal user) =>
        long.TryParse(user.FindFirst(AuthTimeClaim)?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;

    /// <summary>
    /// The rule: a known <c>auth_time</c>, not older than the window, and not in the future beyond the 30 s
    /// clock skew tokens are allowed anyway (a token "authenticated" later than now is forged or mis-stamped).
    /// </summary>
    public static bool IsRecent(DateTimeOffset? authTime, DateTimeOffset now, TimeSpan window) =>
        authTime is { } at && now - at <= window && at - now <= TimeSpan.FromSeconds(30);

    /// <summary>
    /// Refuses the endpoint with a 401 step-up problem unless the caller's sign-in is recent. It is an authorization
    /// requirement, so it is decided before the request body is bound or validated: a stale session learns nothing
    /// about the action's input, and a caller who lacks another requirement (the admin role) gets the 403 instead.
    /// </summary>
    public static TBuilder RequireRecentAuthentication<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(Policy);

    private static readonly AuthorizationPolicy Policy = new AuthorizationPolicyBuilder()
        .RequireAuthenticatedUser()
        .AddRequirements(new RecentAuthenticationRequirement())
        .Build();

    /// <summary>The step-up challenge of RFC 9470 §3, with the same problem shape as every other refusal.</summary>
    internal static Task WriteStepUpChallengeAsync(HttpContext http)
    {
        var window = http.RequestServices.GetRequiredService<IOptions<SecurityOptions>>().Value.RecentAuthenticationWindow;
        var maxAge = (long)window.TotalSeconds;
        http.Response.Headers.WWWAuthenticate =
            $"Bearer error=\"{InsufficientUserAuthentication}\", error_description=\"A more recent authentication is required.\", max_age=\"{maxAge}\"";
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: "Sign in again.",
            detail: $"This action needs a sign-in from the last {maxAge} seconds; sign in again and retry.",
            extensions: new Dictionary<string, object?> { ["error"] = InsufficientUserAuthentication, ["max_age"] = maxAge }).ExecuteAsync(http);
    }
}

/// <summary>The caller's <c>auth_time</c> is within <c>Security:RecentAuthenticationWindow</c>.</summary>
public sealed class RecentAuthenticationRequirement : IAuthorizationRequirement;

internal sealed class RecentAuthenticationHandler(IOptions<SecurityOptions> security, TimeProvider? time = null)
    : AuthorizationHandler<RecentAuthenticationRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, RecentAuthenticationRequirement requirement)
    {
        if (RecentAuthentication.IsRecent(RecentAuthentication.AuthTimeOf(context.User), (time ?? TimeProvider.System).GetUtcNow(), security.Value.RecentAuthenticationWindow))
        {
            context.Succeed(requirement);
        }
        return Task.CompletedTask;
    }
}

/// <summary>
/// A refusal for a stale sign-in alone is the step-up challenge (401, re-authenticate), not the framework's bare 403;
/// every other outcome is the framework's.
/// </summary>
internal sealed class StepUpAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult) =>
        authorizeResult.Forbidden
        && authorizeResult.AuthorizationFailure is { FailCalled: false, FailedRequirements: var failed }
        && failed.Any() && failed.All(r => r is RecentAuthenticationRequirement)
            ? RecentAuthentication.WriteStepUpChallengeAsync(context)
            : _default.HandleAsync(next, context, policy, authorizeResult);
}
