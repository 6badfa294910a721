using System.Buffers.Text;
using System.Security.Claims;
using System.Text;
using FluentValidation;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Profile.Infrastructure;
using SecurePlatform.Profile.IntegrationEvents;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.Profile.Apis;

/// <summary>
/// Administrators (the platform's admin policy: admin role and a second factor) find, read and erase any profile.
/// <c>GET /profiles/{sub}</c> is the public view's route too: an admin gets the whole profile there.
/// </summary>
public static class AdminProfilesApi
{
    public const int DefaultLimit = 20;
    public const int MaxLimit = 100;
    public const int MaxSearchLength = 100;

    /// <param name="Search">Part of the display name (case-insensitive), or a whole <c>sub</c>.</param>
    /// <param name="Cursor">The <c>nextCursor</c> of the page before.</param>
    /// <param name="Limit">Page size, 1 to 100.</param>
    public sealed record ProfileSearch(string? Search, string? Cursor, int? Limit);

    /// <summary>One search hit: enough to pick the profile; contact data only in the (audited) full view.</summary>
    public sealed record ProfileSummary(string Sub, string DisplayName, string? AvatarUrl, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record ProfilePage(IReadOnlyList<ProfileSummary> Items, string? NextCursor);

    public static IEndpointRouteBuilder MapAdminProfilesApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/profiles").WithTags("Profiles (admin)").RequireAuthorization(PlatformClaims.AdminPolicy).WithValidation();
        admin.MapGet("", SearchAsync).WithName("SearchProfiles")
            .WithSummary("Profiles by display name or sub, ordered by sub, one page at a time (cursor).")
            .ProducesValidationProblem();
        admin.MapDelete("/{sub}", DeleteAsync).WithName("DeleteProfile")
            .WithSummary("Erases a user's profile and avatar (ProfileDeleted names the admin as actor).")
            .RequireRecentAuthentication();
        return app;
    }

    internal static async Task<Ok<ProfilePage>> SearchAsync([AsParameters] ProfileSearch query, ProfileDbContext db, HttpContext http, CancellationToken cancellationToken)
    {
        // Validated already (ProfileSearchValidator): the cursor decodes, the limit is in range.
        var limit = query.Limit ?? DefaultLimit;
        var profiles = db.Profiles.AsNoTracking();
        if (!string.IsNullOrEmpty(query.Search))
        {
            var pattern = "%" + EscapeLike(query.Search) + "%";
            profiles = profiles.Where(p => p.Id == query.Search || EF.Functions.ILike(p.DisplayName, pattern, "\\"));
        }
        if (DecodeCursor(query.Cursor) is { } after)
        {
            profiles = profiles.Where(p => string.Compare(p.Id, after) > 0);
        }
        var rows = await profiles.OrderBy(p => p.Id).Take(limit + 1).ToListAsync(cancellationToken);
        var next = rows.Count > limit ? EncodeCursor(rows[limit - 1].Id) : null;
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(new ProfilePage(
            rows.Take(limit).Select(p => new ProfileSummary(p.Id, p.DisplayName, ProfileApi.AvatarUrl(p), p.CreatedAt, p.UpdatedAt)).ToList(), next));
    }

    /// <summary>Whether the caller meets the admin policy (the shared <c>GET /profiles/{sub}</c> decides its answer by it).</summary>
    internal static async Task<bool> IsAdminAsync(ClaimsPrincipal user, IAuthorizationService authorization) =>
        (await authorization.AuthorizeAsync(user, PlatformClaims.AdminPolicy)).Succeeded;

    internal static async Task<Results<NoContent, NotFound>> DeleteAsync(string sub, ClaimsPrincipal user, HttpContext http, ProfileDbContext db, CancellationToken cancellationToken)
    {
        if (sub.Length > 64)
        {
            return TypedResults.NotFound();
        }
        return await ProfileErasure.EraseAsync(db, sub, http, PlatformClaims.SubjectOf(user)!, cancellationToken)
            ? TypedResults.NoContent()
            : TypedResults.NotFound();
    }

    /// <summary><c>%</c>, <c>_</c> and the escape itself are the caller's text, not wildcards.</summary>
    internal static string EscapeLike(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal)
        .Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);

    internal static string EncodeCursor(string sub) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(sub));

    internal static string? DecodeCursor(string? cursor)
    {
        if (string.IsNullOrEmpty(cursor) || cursor.Length > 128)
        {
            return null;
        }
        try
        {
            var sub = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
            return sub.Length is > 0 and <= 64 && !sub.Any(char.IsControl) ? sub : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}

/// <summary>The admin search's query: text by the platform's text rules, a cursor this API issued, a bounded page.</summary>
public sealed class ProfileSearchValidator : AbstractValidator<AdminProfilesApi.ProfileSearch>
{
    public ProfileSearchValidator()
    {
        RuleFor(q => q.Search).PlatformText(AdminProfilesApi.MaxSearchLength, required: false);
        RuleFor(q => q.Cursor).Must(c => c is null || AdminProfilesApi.DecodeCursor(c) is not null)
            .WithErrorCode("cursor").WithMessage("Not a cursor returned by this API.");
        RuleFor(q => q.Limit).InclusiveBetween(1, AdminProfilesApi.MaxLimit)
            .WithErrorCode("range").WithMessage($"From 1 to {AdminProfilesApi.MaxLimit}.");
    }
}
