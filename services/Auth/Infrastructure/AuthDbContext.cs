using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Auth.Model;
using SecurePlatform.Messaging;

namespace SecurePlatform.Auth.Infrastructure;

/// <summary>ASP.NET Core Identity's stores plus the outbox, in <c>authdb</c>.</summary>
public sealed class AuthDbContext(DbContextOptions<AuthDbContext> options) : IdentityDbContext<User>(options)
{
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
        modelBuilder.AddIntegrationEventTables();
    }
}
