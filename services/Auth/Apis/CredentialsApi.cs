using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using SecurePlatform.Auth.IntegrationEvents;
using SecurePlatform.Contracts;
using SecurePlatform.Auth.Services;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.RateLimiting;
using SecurePlatform.Messaging;

namespace SecurePlatform.Auth.Apis;

/// <summary>
/// The hosted sign-in's credential check, for token-service only: the same code as <c>POST /auth/login</c>
/// (<see cref="SessionApi.VerifyPasswordAsync"/>) without the tokens, which token-service issues itself through
/// the authorization code flow.
/// </summary>
public static class CredentialsApi
{
    public const string TokenServicePolicy = "token-service-back-channel";

    public sealed record VerifyRequest(string? Email, string? Password, string? ClientId, string? ClientIp, string? UserAgent);

    public sealed record VerifiedUser(string Subject, string[] Amr, string[] Roles, string? Email, bool EmailVerified);

    public static IEndpointRouteBuilder MapCredentialsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost(Protocol.CredentialCheck.Path, VerifyAsync)
            .WithTags("Back channel")
            .WithSummary("token-service's hosted login: checks email and password for the browser whose address and user agent it names.")
            .RequireAuthorization(TokenServicePolicy)
            .Accepts<VerifyRequest>("application/json")
            .Produces<VerifiedUser>(StatusCodes.Status200OK)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        return app;
    }

    /// <summary>A platform token of token-service itself, for this one purpose: no user, no session.</summary>
    public static void AddTokenServicePolicy(Microsoft.AspNetCore.Authorization.AuthorizationOptions options) =>
        options.AddPolicy(TokenServicePolicy, policy => policy.RequireAuthenticatedUser().RequireAssertion(context =>
            context.User.FindFirstValue("client_id") == Protocol.Services.Token
            && context.User.FindFirstValue(PlatformClaims.Subject) == Protocol.Services.Token
            && PlatformClaims.SessionOf(context.User) is null
            && (context.User.FindFirstValue("scope") ?? "").Split(' ').Contains(Protocol.CredentialCheck.Scope)));

    internal static async Task<IResult> VerifyAsync(HttpContext http, [AsParameters] LoginServices services, CancellationToken cancellationToken)
    {
        var body = await JsonBody.ReadAsync<VerifyRequest>(http.Request, cancellationToken);
        if (body.Problem is { } problem)
        {
            return problem;
        }
        var request = body.Value!;
        if (string.IsNullOrEmpty(request.Email) || string.IsNullOrEmpty(request.Password))
        {
            return SessionApi.InvalidCredentials();
        }
        // token-service forwards the browser's address and user agent: events and throttling concern the browser.
        // (The device cookie is auth-service's, which the hosted page's browser never sends here: the hosted login
        // gets the budget of an unknown device.)
        var browser = IPAddress.TryParse(request.ClientIp, out var address) ? address : http.Connection.RemoteIpAddress;
        http.Connection.RemoteIpAddress = browser;
        http.Request.Headers.UserAgent = EventStamping.Truncate(request.UserAgent) ?? "";
        var result = await services.Credentials.CheckAsync(
            new CredentialCheckRequest(request.Email, request.Password, browser, EventStamping.Truncate(request.UserAgent), DeviceCookie: null), cancellationToken);
        switch (result)
        {
            case CredentialCheckResult.Throttled throttled:
                return RateLimitRejection.Result(throttled.Policy, throttled.ClientPartition, throttled.RetryAfter);
            case not CredentialCheckResult.Verified:
                return SessionApi.InvalidCredentials();
        }
        var user = ((CredentialCheckResult.Verified)result).User;
        var roles = (await services.Users.GetRolesAsync(user)).Order(StringComparer.Ordinal).ToArray();
        string[] amr = ["pwd"];
        user.LastLoginAt = DateTimeOffset.UtcNow;
        // The session opens when the client redeems its code (token-service's SessionCreated names it).
        services.Db.AddIntegrationEvent(AuthEvents.Create<LoginSucceeded>(http, actor: user.Id, subject: user.Id) with { ClientId = request.ClientId ?? "", Amr = amr });
        await services.Db.SaveChangesAsync(CancellationToken.None);
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(new VerifiedUser(user.Id, amr, roles, user.Email, user.EmailConfirmed));
    }
}
