using Microsoft.AspNetCore.Identity;

namespace SecurePlatform.Auth.Model;

/// <summary>
/// An account. <see cref="IdentityUser.Id"/> is a UUIDv7 (it becomes the tokens' <c>sub</c>);
/// <see cref="IdentityUser.UserName"/> and <see cref="IdentityUser.Email"/> both hold the normalised email.
/// </summary>
public sealed class User : IdentityUser
{
    public User()
    {
        Id = NewId();
        SecurityStamp = Guid.NewGuid().ToString("N");
    }

    /// <summary>The id generator of accounts (also used for the decoy answer to a duplicate registration).</summary>
    public static string NewId() => Guid.CreateVersion7().ToString();

    public DateTimeOffset CreatedAt { get; set; } = DateTimeOffset.UtcNow;

    public DateTimeOffset? LastLoginAt { get; set; }

    /// <summary>Set when an administrator disabled the account: sign-in fails exactly as for a wrong password.</summary>
    public DateTimeOffset? DisabledAt { get; set; }

    public bool IsDisabled => DisabledAt is not null;

    /// <summary>
    /// Set by an administrator: the password proves who signs in but opens no session until the user chose a new one
    /// (<c>POST /auth/password/expired</c>). Cleared by that change.
    /// </summary>
    public bool PasswordChangeRequired { get; set; }
}

public static class RoleNames
{
    public const string Admin = "admin";
    public const string User = "user";
    public const string AdminRoleId = "0192f0d2-6c00-7000-8000-000000000001";
    public const string UserRoleId = "0192f0d2-6c00-7000-8000-000000000002";

    /// <summary>Seeded by the migration; fixed ids so the data is stable.</summary>
    internal static readonly IdentityRole[] Seed =
    [
        new(Admin) { Id = AdminRoleId, NormalizedName = "ADMIN", ConcurrencyStamp = "6e0a5c1e-admin" },
        new(User) { Id = UserRoleId, NormalizedName = "USER", ConcurrencyStamp = "6e0a5c1e-user" },
    ];
}
