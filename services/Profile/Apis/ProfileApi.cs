using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Contracts;
using SecurePlatform.Profile.Infrastructure;
using SecurePlatform.Profile.Model;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.Messaging;

namespace SecurePlatform.Profile.Apis;

public static class ProfileApi
{
    public sealed record ProfileResponse(string Sub, string DisplayName, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record UpdateProfileRequest(string? DisplayName);

    public static IEndpointRouteBuilder MapProfileApi(this IEndpointRouteBuilder app)
    {
        var me = app.MapGroup("/profiles/me").WithTags("Profile").RequireAuthorization();
        me.MapGet("/", GetMyProfileAsync).WithName("GetMyProfile").WithSummary("The caller's profile, created on first use.");
        me.MapPut("/", UpdateMyProfileAsync).WithName("UpdateMyProfile").WithSummary("Changes the caller's profile.");
        return app;
    }

    internal static async Task<Ok<ProfileResponse>> GetMyProfileAsync(ClaimsPrincipal user, ProfileDbContext db, CancellationToken cancellationToken)
    {
        var profile = await FindOrCreateAsync(db, PlatformClaims.SubjectOf(user)!, cancellationToken);
        return TypedResults.Ok(ToResponse(profile));
    }

    internal static async Task<Results<Ok<ProfileResponse>, ValidationProblem>> UpdateMyProfileAsync(
        UpdateProfileRequest request, ClaimsPrincipal user, HttpContext http, ProfileDbContext db, CancellationToken cancellationToken)
    {
        if (ProfileRules.CheckDisplayName(request.DisplayName) is { } error)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["displayName"] = [error] });
        }
        var sub = PlatformClaims.SubjectOf(user)!;
        var profile = await FindOrCreateAsync(db, sub, cancellationToken);
        if (profile.DisplayName != request.DisplayName)
        {
            profile.DisplayName = request.DisplayName!;
            profile.UpdatedAt = DateTimeOffset.UtcNow;
            db.AddIntegrationEvent(new ProfileUpdated { Fields = ["displayName"] }.Stamp(Protocol.Services.Profile, http, sub, sub));
            await db.SaveChangesAsync(cancellationToken);
        }
        return TypedResults.Ok(ToResponse(profile));
    }

    private static async Task<UserProfile> FindOrCreateAsync(ProfileDbContext db, string sub, CancellationToken cancellationToken)
    {
        var profile = await db.Profiles.FindAsync([sub], cancellationToken);
        if (profile is not null)
        {
            return profile;
        }
        var now = DateTimeOffset.UtcNow;
        profile = new UserProfile { Id = sub, CreatedAt = now, UpdatedAt = now };
        db.Profiles.Add(profile);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // created concurrently by another request or by the UserRegistered consumer
            db.ChangeTracker.Clear();
            profile = await db.Profiles.SingleAsync(p => p.Id == sub, cancellationToken);
        }
        return profile;
    }

    private static ProfileResponse ToResponse(UserProfile p) => new(p.Id, p.DisplayName, p.CreatedAt, p.UpdatedAt);
}
