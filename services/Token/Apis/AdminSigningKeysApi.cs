using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Services;

namespace SecurePlatform.Token.Apis;

/// <summary>
/// token-service's signing keys, for admins: list them, and revoke a compromised one at once (the emergency
/// procedure; scheduled rotation needs nobody). Never any key material.
/// </summary>
public static class AdminSigningKeysApi
{
    /// <summary><see cref="Status"/>: <c>active</c> (signing), <c>scheduled</c>, <c>retired</c> (still verifying), <c>expired</c> or <c>revoked</c>.</summary>
    public sealed record SigningKeyResponse(
        string KeyId, string Algorithm, DateTimeOffset CreatedAt, DateTimeOffset ActivatesAt, DateTimeOffset? RevokedAt, string Status, bool Published);

    /// <summary><see cref="ActiveKeyId"/> signs from now on; <see cref="ReplacementKeyId"/> is set when it was created for this revocation.</summary>
    public sealed record RevokedSigningKeyResponse(string RevokedKeyId, string? ReplacementKeyId, string? ActiveKeyId);

    public static IEndpointRouteBuilder MapAdminSigningKeysApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/admin/signing-keys").WithTags("Signing keys (admin)").RequireAuthorization(PlatformClaims.AdminPolicy);
        admin.MapGet("/", ListAsync).WithName("ListSigningKeys").WithSummary("token-service's signing keys and their state (no key material).");
        admin.MapPost("/{keyId}/revoke", RevokeAsync).RequireRecentAuthentication().WithName("RevokeSigningKey")
            .WithSummary("Emergency: withdraws a compromised signing key now; every service refuses the tokens it signed.");
        return app;
    }

    internal static async Task<Ok<List<SigningKeyResponse>>> ListAsync(TokenDbContext db, KeyRing keys, TimeProvider clock, CancellationToken cancellationToken)
    {
        var published = keys.PublishedKeyIds;
        var rows = await db.SigningKeys.AsNoTracking().Where(k => k.Use == KeyRing.SigningUse).OrderByDescending(k => k.ActivatesAt).ToListAsync(cancellationToken);
        var now = clock.GetUtcNow();
        return TypedResults.Ok(rows.Select(k => new SigningKeyResponse(
            k.Id, k.Algorithm, k.CreatedAt, k.ActivatesAt, k.RevokedAt,
            k.RevokedAt is not null ? "revoked"
                : k.Id == keys.ActiveKeyId ? "active"
                : k.ActivatesAt > now ? "scheduled"
                : published.Contains(k.Id) ? "retired" : "expired",
            published.Contains(k.Id))).ToList());
    }

    internal static async Task<Results<Ok<RevokedSigningKeyResponse>, ProblemHttpResult>> RevokeAsync(
        string keyId, KeyRing keys, RevocationDelivery delivery, ClaimsPrincipal user, HttpContext http, CancellationToken cancellationToken)
    {
        var actor = PlatformClaims.SubjectOf(user);
        var result = await keys.RevokeAsync(keyId, e => e.Stamp(SessionService.SourceService, http, actor, subject: null), cancellationToken);
        switch (result.Outcome)
        {
            case KeyRevocationOutcome.NotFound:
                return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such signing key.",
                    detail: "GET /admin/signing-keys lists the key ids.");
            case KeyRevocationOutcome.AlreadyRevoked:
                return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The signing key is already revoked.");
        }
        // Committed in tokendb: Redis gets it now, or the revocation replay puts it there once Redis answers.
        await delivery.DeliverSigningKeyAsync(keyId);
        return TypedResults.Ok(new RevokedSigningKeyResponse(keyId, result.ReplacementKeyId, keys.ActiveKeyId));
    }
}
