using Microsoft.EntityFrameworkCore;
using SecurePlatform.Profile.Model;
using SecurePlatform.Messaging;

namespace SecurePlatform.Profile.Infrastructure;

public sealed class ProfileDbContext(DbContextOptions<ProfileDbContext> options) : DbContext(options)
{
    public DbSet<UserProfile> Profiles => Set<UserProfile>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddIntegrationEventTables();
        modelBuilder.Entity<UserProfile>(e =>
        {
            e.ToTable("profiles");
            e.HasKey(p => p.Id);
            e.Property(p => p.Id).HasMaxLength(64);
            e.Property(p => p.DisplayName).HasMaxLength(ProfileRules.DisplayNameMaxLength);
        });
    }
}
