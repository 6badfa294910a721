using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.IntegrationEvents;
using SecurePlatform.Auth.Model;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;

namespace SecurePlatform.Auth.Services;

public abstract record AdminChangeResult
{
    /// <summary>Committed (or nothing to change: <paramref name="Before"/> equals <paramref name="After"/>, no event). <paramref name="After"/> is null after a deletion.</summary>
    public sealed record Done(User User, UserSummary Before, UserSummary? After) : AdminChangeResult
    {
        public bool Changed => After is null || !UserAdministration.Same(Before, After);
    }

    public sealed record NotFound : AdminChangeResult;

    /// <summary>The change would leave no enabled administrator; nothing was changed.</summary>
    public sealed record LastAdministrator : AdminChangeResult;
}

/// <summary>
/// Changes to accounts that an administrator (or, for deletion, the user) makes, each in one transaction with its
/// events. Every change first takes the row lock of the admin role (<c>SELECT … FOR UPDATE</c> on <c>roles</c>), so
/// changes that could remove an administrator run one after the other; the count of the other administrators is read
/// after the lock, in a statement of its own, so it sees what the previous holder committed (READ COMMITTED takes a
/// snapshot per statement). Two admins demoting each other at once therefore leave one.
/// </summary>
public sealed class UserAdministration(AuthDbContext db, TimeProvider clock)
{
    /// <summary>The desired state from the current one; null deletes the account. Events from before and after.</summary>
    private delegate UserSummary? Change(UserSummary before);

    private delegate IEnumerable<IntegrationEvent> Events(UserSummary before, UserSummary? after);

    public Task<AdminChangeResult> DisableAsync(string sub, string? reason, HttpContext http, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(sub, before => before with { Disabled = true },
            (before, after) => [AuthEvents.Create<UserDisabled>(http, actor, sub) with { Reason = reason, Before = before, After = after }], cancellationToken);

    public Task<AdminChangeResult> EnableAsync(string sub, HttpContext http, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(sub, before => before with { Disabled = false },
            (before, after) => [AuthEvents.Create<UserEnabled>(http, actor, sub) with { Before = before, After = after! }], cancellationToken);

    /// <summary>Replaces the role set: one <see cref="RoleGranted"/> or <see cref="RoleRevoked"/> per role that changes, each with the whole before and after.</summary>
    public Task<AdminChangeResult> SetRolesAsync(string sub, IReadOnlyCollection<string> roles, HttpContext http, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(sub, before => before with { Roles = Sorted(roles) },
            (before, after) =>
                after!.Roles.Except(before.Roles).Select(role => (IntegrationEvent)(AuthEvents.Create<RoleGranted>(http, actor, sub) with { Role = role, Before = before, After = after }))
                    .Concat(before.Roles.Except(after.Roles).Select(role => AuthEvents.Create<RoleRevoked>(http, actor, sub) with { Role = role, Before = before, After = after })),
            cancellationToken);

    public Task<AdminChangeResult> ResetMfaAsync(string sub, HttpContext http, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(sub, before => before with { MfaEnabled = false },
            (before, after) => [AuthEvents.Create<MfaDisabled>(http, actor, sub) with { Before = before, After = after }], cancellationToken);

    public Task<AdminChangeResult> RequirePasswordChangeAsync(string sub, HttpContext http, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(sub, before => before with { PasswordChangeRequired = true },
            (before, after) => [AuthEvents.Create<PasswordChangeRequired>(http, actor, sub) with { Before = before, After = after! }], cancellationToken);

    /// <summary>Removes the account with its role links, external logins, authenticator and recovery codes (foreign keys cascade).</summary>
    public Task<AdminChangeResult> DeleteAsync(string sub, HttpContext http, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(sub, _ => null,
            (before, _) => [AuthEvents.Create<UserDeleted>(http, actor, sub) with { Before = before }], cancellationToken);

    private async Task<AdminChangeResult> ChangeAsync(string sub, Change change, Events events, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"""SELECT 1 FROM roles WHERE id = {RoleNames.AdminRoleId} FOR UPDATE""", cancellationToken);

        var user = await db.Users.SingleOrDefaultAsync(u => u.Id == sub, cancellationToken);
        if (user is null)
        {
            return new AdminChangeResult.NotFound();
        }
        var roleIds = await db.UserRoles.Where(r => r.UserId == sub).Select(r => r.RoleId).ToListAsync(cancellationToken);
        var mfaEnabled = await db.TotpAuthenticators.AnyAsync(t => t.UserId == sub && t.ConfirmedAt != null, cancellationToken);
        var before = Summary(user, roleIds, mfaEnabled);
        var after = change(before);
        if (after is not null && Same(before, after))
        {
            return new AdminChangeResult.Done(user, before, after);
        }

        var otherAdmins = await db.UserRoles
            .Where(r => r.RoleId == RoleNames.AdminRoleId && r.UserId != sub)
            .Join(db.Users.Where(u => u.DisabledAt == null), r => r.UserId, u => u.Id, (r, _) => r.UserId)
            .CountAsync(cancellationToken);
        if (UserAdministrationRules.LeavesNoAdministrator(IsActiveAdmin(before), after is not null && IsActiveAdmin(after), otherAdmins))
        {
            return new AdminChangeResult.LastAdministrator();
        }

        if (after is null)
        {
            db.Users.Remove(user);
        }
        else
        {
            foreach (var role in after.Roles.Except(before.Roles))
            {
                db.UserRoles.Add(new IdentityUserRole<string> { UserId = sub, RoleId = RoleId(role) });
            }
            var removed = before.Roles.Except(after.Roles).Select(RoleId).ToList();
            await db.UserRoles.Where(r => r.UserId == sub && removed.Contains(r.RoleId)).ExecuteDeleteAsync(cancellationToken);
            user.DisabledAt = after.Disabled ? user.DisabledAt ?? clock.GetUtcNow() : null;
            user.PasswordChangeRequired = after.PasswordChangeRequired;
            if (before.MfaEnabled && !after.MfaEnabled)
            {
                await db.TotpAuthenticators.Where(t => t.UserId == sub).ExecuteDeleteAsync(cancellationToken);
                await db.RecoveryCodes.Where(c => c.UserId == sub).ExecuteDeleteAsync(cancellationToken);
            }
            // Whatever Identity derived from the old state (its tokens, say) is no longer valid.
            user.SecurityStamp = Guid.NewGuid().ToString("N");
            user.ConcurrencyStamp = Guid.NewGuid().ToString();
        }
        foreach (var integrationEvent in events(before, after))
        {
            db.AddIntegrationEvent(integrationEvent);
        }
        await db.SaveChangesAsync(CancellationToken.None);
        await transaction.CommitAsync(CancellationToken.None);
        return new AdminChangeResult.Done(user, before, after);
    }

    public static UserSummary Summary(User user, IEnumerable<string> roleIds, bool mfaEnabled) => new()
    {
        Roles = Sorted(roleIds.Select(RoleName)),
        Disabled = user.IsDisabled,
        MfaEnabled = mfaEnabled,
        PasswordChangeRequired = user.PasswordChangeRequired,
    };

    public static bool Same(UserSummary a, UserSummary b) =>
        a.Roles.SequenceEqual(b.Roles, StringComparer.Ordinal) && a with { Roles = b.Roles } == b;

    private static bool IsActiveAdmin(UserSummary account) => !account.Disabled && account.Roles.Contains(RoleNames.Admin, StringComparer.Ordinal);

    private static string[] Sorted(IEnumerable<string> roles) => [.. roles.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    public static string RoleName(string roleId) => roleId switch
    {
        RoleNames.AdminRoleId => RoleNames.Admin,
        RoleNames.UserRoleId => RoleNames.User,
        _ => roleId,
    };

    private static string RoleId(string role) => role switch
    {
        RoleNames.Admin => RoleNames.AdminRoleId,
        RoleNames.User => RoleNames.UserRoleId,
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "Not a role of the platform (the validator admits only known roles)."),
    };
}
