using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Contracts;
using SecurePlatform.Profile.Infrastructure;
using SecurePlatform.Profile.Model;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.Validation;
using SecurePlatform.Messaging;

namespace SecurePlatform.Profile.Apis;

public static class ProfileApi
{
    public sealed record PhoneResponse(string E164, string National, string International, string Type);

    public sealed record AddressResponse(string Country, IReadOnlyList<string> Lines, string? Locality, string? Region, string? PostalCode);

    public sealed record ProfileResponse(
        string Sub, string DisplayName, string? Bio, PhoneResponse? Phone, AddressResponse? Address,
        string? Locale, string? TimeZone, string? Website, string? AvatarUrl, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    /// <summary>What any signed-in user may see of another: nothing but the name and the picture.</summary>
    public sealed record PublicProfileResponse(string Sub, string DisplayName, string? AvatarUrl);

    public static IEndpointRouteBuilder MapProfileApi(this IEndpointRouteBuilder app)
    {
        var profiles = app.MapGroup("/profiles").WithTags("Profile").RequireAuthorization().WithValidation();
        profiles.MapGet("/me", GetMyProfileAsync).WithName("GetMyProfile").WithSummary("The caller's profile, created on first use.");
        profiles.MapPut("/me", UpdateMyProfileAsync).WithName("UpdateMyProfile")
            .WithSummary("Replaces the caller's profile (members left out are cleared).")
            .ProducesValidationProblem();
        profiles.MapDelete("/me", DeleteMyProfileAsync).WithName("DeleteMyProfile").WithSummary("Erases the caller's profile.");
        profiles.MapGet("/{sub}", GetProfileAsync).WithName("GetProfile")
            .WithSummary("Another user's public view (display name and avatar); for an admin (admin policy) the whole profile, audited.")
            .Produces<PublicProfileResponse>()
            .Produces<ProfileResponse>();
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
        // Validated already (WithValidation): from here on only normalising and storing.
        var sub = PlatformClaims.SubjectOf(user)!;
        var profile = await FindOrCreateAsync(db, sub, cancellationToken);
        var changed = ProfileChanges.Apply(profile, request);
        if (changed.Count > 0)
        {
            profile.UpdatedAt = DateTimeOffset.UtcNow;
            db.AddIntegrationEvent(new ProfileUpdated { Fields = changed }.Stamp(Protocol.Services.Profile, http, sub, sub));
            await db.SaveChangesAsync(cancellationToken);
        }
        return TypedResults.Ok(ToResponse(profile));
    }

    internal static async Task<NoContent> DeleteMyProfileAsync(ClaimsPrincipal user, HttpContext http, ProfileDbContext db, CancellationToken cancellationToken)
    {
        var sub = PlatformClaims.SubjectOf(user)!;
        await ProfileErasure.EraseAsync(db, sub, http, sub, cancellationToken);
        return TypedResults.NoContent();
    }

    internal static async Task<Results<Ok<PublicProfileResponse>, Ok<ProfileResponse>, NotFound>> GetProfileAsync(
        string sub, ClaimsPrincipal user, IAuthorizationService authorization, HttpContext http, ProfileDbContext db, CancellationToken cancellationToken)
    {
        if (sub.Length > 64)
        {
            return TypedResults.NotFound();
        }
        var profile = await db.Profiles.AsNoTracking().SingleOrDefaultAsync(p => p.Id == sub, cancellationToken);
        if (profile is null)
        {
            return TypedResults.NotFound();
        }
        if (!await AdminProfilesApi.IsAdminAsync(user, authorization))
        {
            return TypedResults.Ok(new PublicProfileResponse(profile.Id, profile.DisplayName, AvatarUrl(profile)));
        }
        // Personal data read by someone else: on the record, like every admin action.
        db.AddIntegrationEvent(new ProfileViewed().Stamp(Protocol.Services.Profile, http, PlatformClaims.SubjectOf(user), sub));
        await db.SaveChangesAsync(cancellationToken);
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(ToResponse(profile));
    }

    internal static async Task<UserProfile> FindOrCreateAsync(ProfileDbContext db, string sub, CancellationToken cancellationToken)
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

    internal static ProfileResponse ToResponse(UserProfile p) => new(
        p.Id, p.DisplayName, p.Bio,
        p.Phone is null ? null : PhoneRules.Describe(p.Phone) is var f ? new PhoneResponse(f.E164, f.National, f.International, f.Type) : null,
        p.Country is null ? null : new AddressResponse(p.Country, p.AddressLines, p.Locality, p.Region, p.PostalCode),
        p.Locale, p.TimeZone, p.Website, AvatarUrl(p), p.CreatedAt, p.UpdatedAt);

    /// <summary>Relative to this service; the hash in <c>v</c> makes a new upload a new URL for caches.</summary>
    internal static string? AvatarUrl(UserProfile p) =>
        p.AvatarHash is null ? null : $"/profiles/{Uri.EscapeDataString(p.Id)}/avatar?v={p.AvatarHash[..16]}";
}
