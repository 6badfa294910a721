using Microsoft.AspNetCore.Authentication;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.Profile.Infrastructure;
using SecurePlatform.Profile.Model;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.RateLimiting;
using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.Profile.Apis;

public static class AvatarApi
{
    public sealed record AvatarResponse(string AvatarUrl);

    public static IEndpointRouteBuilder MapAvatarApi(this IEndpointRouteBuilder app)
    {
        var profiles = app.MapGroup("/profiles").WithTags("Avatar").RequireAuthorization();
        profiles.MapPut("/me/avatar", PutAvatarAsync).WithName("PutAvatar")
            .WithSummary("Uploads the caller's avatar: the body is the image (png, jpeg or webp; 2 MiB by default). Stored re-encoded as PNG.")
            .Accepts<byte[]>("image/png", "image/jpeg", "image/webp")
            .Produces<AvatarResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .RequireRateLimit(RateLimitPolicies.Upload);
        profiles.MapDelete("/me/avatar", DeleteAvatarAsync).WithName("DeleteAvatar").WithSummary("Removes the caller's avatar.");
        profiles.MapGet("/{sub}/avatar", GetAvatarAsync).WithName("GetAvatar")
            .WithSummary("A user's avatar as PNG (size 256 or 64); ETag is the content hash.")
            .Produces(StatusCodes.Status200OK, contentType: AvatarImages.ContentType);
        return app;
    }

    /// <summary>The upload budget is per signed-in user (the limiter runs before authentication, so it authenticates here).</summary>
    public static async ValueTask<IReadOnlyList<(string Policy, string Partition)>> UploadBudgetsAsync(HttpContext http, string clientPartition)
    {
        var result = await http.AuthenticateAsync();
        return PlatformClaims.SubjectOf(result.Principal ?? new ClaimsPrincipal()) is { } sub
            ? [(RateLimitPolicies.Upload, "sub:" + sub)]
            : [(RateLimitPolicies.Upload, clientPartition)];
    }

    internal static async Task<IResult> PutAvatarAsync(
        HttpContext http, ClaimsPrincipal user, ProfileDbContext db, IOptions<AvatarOptions> options, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        // This endpoint's own body limit; Kestrel's default (Security:MaxRequestBodyBytes) is the others'.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = limits.MaxBytes;
        }
        if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var media)
            || !AvatarImages.AcceptedTypes.Contains(media.MediaType.Value ?? "", StringComparer.OrdinalIgnoreCase))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type.",
                detail: "Send the image as image/png, image/jpeg or image/webp.");
        }
        if (http.Request.ContentLength > limits.MaxBytes)
        {
            return TooLarge(limits.MaxBytes);
        }
        var bytes = await ReadCappedAsync(http.Request.Body, limits.MaxBytes, cancellationToken);
        if (bytes is null)
        {
            return TooLarge(limits.MaxBytes);
        }
        var (processed, rule, message) = AvatarImages.Process(bytes, media.MediaType.Value!, limits.MaxPixels, limits.MaxSide);
        if (processed is null)
        {
            return FieldErrors.One("image", rule!, message!);
        }

        var sub = PlatformClaims.SubjectOf(user)!;
        var profile = await ProfileApi.FindOrCreateAsync(db, sub, cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Avatars.Where(a => a.ProfileId == sub).ExecuteDeleteAsync(cancellationToken);
        foreach (var (size, content) in processed.Images)
        {
            db.Avatars.Add(new Avatar { ProfileId = sub, Size = size, Content = content, Hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content)) });
        }
        profile.AvatarHash = processed.Hash;
        profile.UpdatedAt = DateTimeOffset.UtcNow;
        db.AddIntegrationEvent(new AvatarUploaded { ContentType = AvatarImages.ContentType, Size = processed.Images[AvatarImages.DefaultSize].Length }
            .Stamp(Protocol.Services.Profile, http, sub, sub));
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new AvatarResponse(ProfileApi.AvatarUrl(profile)!));
    }

    internal static async Task<IResult> DeleteAvatarAsync(HttpContext http, ClaimsPrincipal user, ProfileDbContext db, CancellationToken cancellationToken)
    {
        var sub = PlatformClaims.SubjectOf(user)!;
        var profile = await db.Profiles.SingleOrDefaultAsync(p => p.Id == sub, cancellationToken);
        if (profile?.AvatarHash is null)
        {
            return TypedResults.NoContent();
        }
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Avatars.Where(a => a.ProfileId == sub).ExecuteDeleteAsync(cancellationToken);
        profile.AvatarHash = null;
        profile.UpdatedAt = DateTimeOffset.UtcNow;
        db.AddIntegrationEvent(new ProfileUpdated { Fields = ["avatar"] }.Stamp(Protocol.Services.Profile, http, sub, sub));
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    internal static async Task<IResult> GetAvatarAsync(string sub, HttpContext http, ProfileDbContext db, int? size, CancellationToken cancellationToken)
    {
        var wanted = size ?? AvatarImages.DefaultSize;
        if (!AvatarImages.Sizes.Contains(wanted))
        {
            return FieldErrors.One("size", "enum", $"One of {string.Join(", ", AvatarImages.Sizes)}.");
        }
        var avatar = sub.Length > 64 ? null : await db.Avatars.AsNoTracking().SingleOrDefaultAsync(a => a.ProfileId == sub && a.Size == wanted, cancellationToken);
        if (avatar is null)
        {
            return TypedResults.NotFound();
        }
        var etag = new EntityTagHeaderValue($"\"{avatar.Hash}\"");
        var headers = http.Response.GetTypedHeaders();
        headers.ETag = etag;
        // Private: only signed-in users may fetch it. Short: a new upload changes the URL's v= anyway.
        headers.CacheControl = new CacheControlHeaderValue { Private = true, MaxAge = TimeSpan.FromMinutes(5) };
        if (http.Request.GetTypedHeaders().IfNoneMatch.Any(t => t.Compare(etag, useStrongComparison: false) || t.Equals(EntityTagHeaderValue.Any)))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }
        http.Response.Headers.ContentDisposition = "inline; filename=\"avatar.png\"";
        return TypedResults.File(avatar.Content, AvatarImages.ContentType);
    }

    private static async Task<byte[]?> ReadCappedAsync(Stream body, long max, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > max)
            {
                return null;
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static IResult TooLarge(long max) => TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "Payload too large.", detail: $"The image must be at most {max} bytes.");
}
