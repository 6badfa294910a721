using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Services;
using Application = OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreApplication;

namespace SecurePlatform.Token.Apis;

/// <summary>The signed-in user's remembered consents ("connected applications"): list them, withdraw one.</summary>
public static class GrantsApi
{
    public sealed record GrantResponse(string Id, string ClientId, string DisplayName, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt);

    public static IEndpointRouteBuilder MapGrantsApi(this IEndpointRouteBuilder app)
    {
        var grants = app.MapGroup("/grants").WithTags("Grants").RequireAuthorization();
        grants.MapGet("/", ListAsync).WithName("ListMyGrants").WithSummary("The applications the caller has consented to, with the scopes.");
        grants.MapDelete("/{id:guid}", RevokeAsync).WithName("RevokeMyGrant")
            .WithSummary("Withdraws a consent: the application must ask again, and its sessions of the caller end.");
        return app;
    }

    internal static async Task<Ok<List<GrantResponse>>> ListAsync(ClaimsPrincipal user, TokenDbContext db, CancellationToken cancellationToken)
    {
        var subject = PlatformClaims.SubjectOf(user)!;
        var grants = await db.Grants.AsNoTracking().Where(g => g.Subject == subject).OrderByDescending(g => g.CreatedAt).ToListAsync(cancellationToken);
        var clientIds = grants.Select(g => g.ClientId).Distinct().ToList();
        var names = await db.Set<Application>().AsNoTracking()
            .Where(a => a.ClientId != null && clientIds.Contains(a.ClientId))
            .ToDictionaryAsync(a => a.ClientId!, a => a.DisplayName ?? a.ClientId!, cancellationToken);
        return TypedResults.Ok(grants
            .Select(g => new GrantResponse(g.Id.ToString(), g.ClientId, names.GetValueOrDefault(g.ClientId, g.ClientId), g.Scopes, g.CreatedAt))
            .ToList());
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> RevokeAsync(
        Guid id, ClaimsPrincipal user, HttpContext http, TokenDbContext db, SessionService sessions, CancellationToken cancellationToken)
    {
        var subject = PlatformClaims.SubjectOf(user)!;
        // Another user's grant looks the same as none.
        if (await db.Grants.FirstOrDefaultAsync(g => g.Id == id && g.Subject == subject, cancellationToken) is not { } grant)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such grant.");
        }
        var revoked = await sessions.MarkClientSessionsRevokedAsync(grant.ClientId, subject, RevocationReasons.GrantRevoked, http, subject, cancellationToken);
        db.Grants.Remove(grant);
        db.AddIntegrationEvent(new GrantRevoked { GrantId = grant.Id.ToString(), ClientId = grant.ClientId, Scopes = grant.Scopes, SessionsRevoked = revoked.Count }
            .Stamp(SessionService.SourceService, http, subject, subject));
        await db.SaveChangesAsync(cancellationToken); // one commit: the grant, the sessions and the events
        await sessions.DeliverRevocationsAsync(revoked);
        return TypedResults.NoContent();
    }
}
