using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Auth.Model;
using SecurePlatform.Messaging;

namespace SecurePlatform.Auth.Infrastructure;

/// <summary>ASP.NET Core Identity's stores, TOTP authenticators and recovery codes, plus the outbox, in <c>authdb</c>.</summary>
public sealed class AuthDbContext(DbContextOptions<AuthDbContext> options) : IdentityDbContext<User>(options)
{
    public DbSet<TotpAuthenticator> TotpAuthenticators => Set<TotpAuthenticator>();

    public DbSet<RecoveryCode> RecoveryCodes => Set<RecoveryCode>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        modelBuilder.Entity<User>(user =>
        {
            user.ToTable("users");
            user.Property(u => u.PasswordHash).HasMaxLength(256);
            user.Property(u => u.SecurityStamp).HasMaxLength(64);
            user.Property(u => u.ConcurrencyStamp).HasMaxLength(64);
            user.Property(u => u.PhoneNumber).HasMaxLength(32);
        });
        modelBuilder.Entity<IdentityRole>(role =>
        {
            role.ToTable("roles");
            role.HasData(RoleNames.Seed);
        });
        modelBuilder.Entity<IdentityUserRole<string>>().ToTable("user_roles");
        modelBuilder.Entity<IdentityUserClaim<string>>().ToTable("user_claims");
        modelBuilder.Entity<IdentityUserLogin<string>>().ToTable("user_logins");
        modelBuilder.Entity<IdentityUserToken<string>>().ToTable("user_tokens");
        modelBuilder.Entity<IdentityRoleClaim<string>>().ToTable("role_claims");
        modelBuilder.Entity<TotpAuthenticator>(totp =>
        {
            totp.ToTable("totp_authenticators");
            totp.HasKey(t => t.UserId);
            totp.Property(t => t.ProtectedSecret).HasMaxLength(1024);
            totp.HasOne<User>().WithOne().HasForeignKey<TotpAuthenticator>(t => t.UserId).OnDelete(DeleteBehavior.Cascade);
            totp.Ignore(t => t.IsActive);
        });
        modelBuilder.Entity<RecoveryCode>(code =>
        {
            code.ToTable("recovery_codes");
            code.HasKey(c => c.Id);
            code.Property(c => c.Hash).HasMaxLength(64);
            code.HasIndex(c => new { c.UserId, c.Hash }).IsUnique();
            code.HasOne<User>().WithMany().HasForeignKey(c => c.UserId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.AddIntegrationEventTables();
    }
}
