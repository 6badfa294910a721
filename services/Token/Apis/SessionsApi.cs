using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.Token.Model;
using SecurePlatform.Token.Services;

using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.Token.Apis;

/// <summary>Server-side sessions: a user lists and revokes their own; an admin those of any user.</summary>
public static class SessionsApi
{
    public sealed record SessionResponse(string Id, DateTimeOffset CreatedAt, DateTimeOffset LastUsedAt, DateTimeOffset ExpiresAt, string ClientId, string? IpAddress, string? UserAgent, bool Current);

    public sealed record RevokedResponse(int Revoked);

    public static IEndpointRouteBuilder MapSessionsApi(this IEndpointRouteBuilder app)
    {
        var mine = app.MapGroup("/sessions").WithTags("Sessions").RequireAuthorization();
        mine.MapGet("/", ListMineAsync).WithName("ListMySessions").WithSummary("The caller's active sessions.");
        // Ending sessions works while Redis is away: tokendb (the truth) is asked about the caller's session instead.
        mine.MapDelete("/{sid:guid}", RevokeMineAsync).WithName("RevokeMySession").WithSummary("Revokes one of the caller's sessions.").AllowUncheckedRevocation();
        mine.MapDelete("/", RevokeOthersAsync).WithName("RevokeMyOtherSessions").WithSummary("Revokes all of the caller's sessions but the current one.").AllowUncheckedRevocation();

        var admin = app.MapGroup("/admin/users/{sub}/sessions").WithTags("Sessions (admin)").RequireAuthorization(PlatformClaims.AdminPolicy);
        admin.MapGet("/", ListForUserAsync).WithName("ListUserSessions").WithSummary("A user's active sessions.");
        admin.MapDelete("/", RevokeAllForUserAsync).WithName("RevokeUserSessions").WithSummary("Revokes every session of a user.");
        return app;
    }

    internal static async Task<Ok<List<SessionResponse>>> ListMineAsync(ClaimsPrincipal user, SessionService sessions, CancellationToken cancellationToken)
        => TypedResults.Ok(ToResponses(await sessions.ListActiveAsync(PlatformClaims.SubjectOf(user)!, cancellationToken), PlatformClaims.SessionOf(user)));

    internal static async Task<Results<NoContent, NotFound<ProblemDetails>, UnauthorizedHttpResult>> RevokeMineAsync(
        Guid sid, ClaimsPrincipal user, HttpContext http, SessionService sessions, CancellationToken cancellationToken)
    {
        var sub = PlatformClaims.SubjectOf(user)!;
        var own = sid.ToString() == PlatformClaims.SessionOf(user);
        // Signing out of one's own session is the same act whether or not it was already revoked; ending another
        // session needs a live caller, which tokendb confirms when Redis could not.
        if (!own && !await CallerIsLiveAsync(user, http, sessions, cancellationToken))
        {
            return TypedResults.Unauthorized();
        }
        var reason = own ? RevocationReasons.Logout : RevocationReasons.UserRequest;
        return await sessions.RevokeAsync(sid, reason, sub, http, sub, cancellationToken)
            ? TypedResults.NoContent()
            : TypedResults.NotFound(new ProblemDetails { Status = 404, Title = "No such session." }); // another user's session looks the same as none
    }

    internal static async Task<Results<Ok<RevokedResponse>, UnauthorizedHttpResult>> RevokeOthersAsync(ClaimsPrincipal user, HttpContext http, SessionService sessions, CancellationToken cancellationToken)
    {
        if (!await CallerIsLiveAsync(user, http, sessions, cancellationToken))
        {
            return TypedResults.Unauthorized();
        }
        var sub = PlatformClaims.SubjectOf(user)!;
        Guid? current = Guid.TryParse(PlatformClaims.SessionOf(user), out var sid) ? sid : null;
        return TypedResults.Ok(new RevokedResponse(await sessions.RevokeAllAsync(sub, RevocationReasons.UserRequest, current, http, sub, cancellationToken)));
    }

    internal static async Task<Results<Ok<List<SessionResponse>>, ValidationProblem>> ListForUserAsync(string sub, SessionService sessions, CancellationToken cancellationToken)
        => ValidSubject(sub) is { } problem ? problem : TypedResults.Ok(ToResponses(await sessions.ListActiveAsync(sub, cancellationToken), current: null));

    internal static async Task<Results<Ok<RevokedResponse>, ValidationProblem>> RevokeAllForUserAsync(
        string sub, ClaimsPrincipal user, HttpContext http, SessionService sessions, CancellationToken cancellationToken)
        => ValidSubject(sub) is { } problem
            ? problem
            : TypedResults.Ok(new RevokedResponse(await sessions.RevokeAllAsync(sub, RevocationReasons.Admin, keep: null, http, PlatformClaims.SubjectOf(user)!, cancellationToken)));

    /// <summary>True unless the revocation check was skipped (Redis away) and tokendb says the caller's session is over.</summary>
    private static async Task<bool> CallerIsLiveAsync(ClaimsPrincipal user, HttpContext http, SessionService sessions, CancellationToken cancellationToken) =>
        !RevocationUnavailable.WasUnchecked(http)
        || (Guid.TryParse(PlatformClaims.SessionOf(user), out var sid) && await sessions.IsActiveAsync(sid, PlatformClaims.SubjectOf(user)!, cancellationToken));

    private static ValidationProblem? ValidSubject(string sub) =>
        sub.Length is > 0 and <= 200 && sub.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@')
            ? null
            : FieldErrors.One("sub", "format", "A subject is 1 to 200 letters, digits, '-', '_', '.' or '@'.");

    private static List<SessionResponse> ToResponses(List<Session> sessions, string? current) =>
        [.. sessions.Select(s => new SessionResponse(s.Id.ToString(), s.CreatedAt, s.LastUsedAt, s.ExpiresAt, s.ClientId, s.IpAddress, s.UserAgent, s.Id.ToString() == current))];
}
