using Microsoft.EntityFrameworkCore;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.Profile.Infrastructure;

namespace SecurePlatform.Profile;

/// <summary>Erasing a profile: the row goes and <c>ProfileDeleted</c> is written to the outbox in the same transaction.</summary>
public static class ProfileErasure
{
    /// <summary>Adds the deletion to the context; saves unless <paramref name="save"/> is false (the consumer saves in its transaction).</summary>
    public static async Task<bool> EraseAsync(ProfileDbContext db, string sub, HttpContext? http, string actor, CancellationToken cancellationToken, bool save = true)
    {
        var profile = await db.Profiles.SingleOrDefaultAsync(p => p.Id == sub, cancellationToken);
        if (profile is null)
        {
            return false;
        }
        db.Profiles.Remove(profile);
        db.AddIntegrationEvent(new ProfileDeleted().Stamp(Protocol.Services.Profile, http, actor, sub));
        if (save)
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        return true;
    }
}
