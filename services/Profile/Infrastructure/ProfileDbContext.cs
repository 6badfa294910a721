using Microsoft.EntityFrameworkCore;
using SecurePlatform.Profile.Model;
using SecurePlatform.Messaging;

namespace SecurePlatform.Profile.Infrastructure;

public sealed class ProfileDbContext(DbContextOptions<ProfileDbContext> options) : DbContext(options)
{
    public DbSet<UserProfile> Profiles => Set<UserProfile>();

    public DbSet<Avatar> Avatars => Set<Avatar>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddIntegrationEventTables();
        modelBuilder.Entity<UserProfile>(e =>
        {
            e.ToTable("profiles");
            e.HasKey(p => p.Id);
            e.Property(p => p.Id).HasMaxLength(64);
            // Lengths in UTF-16 units bound the columns generously: the rules count code points (at most two units each).
            e.Property(p => p.DisplayName).HasMaxLength(ProfileRules.DisplayNameMaxLength * 2);
            e.Property(p => p.AddressLines).HasDefaultValueSql("'{}'::text[]"); // rows from before the address existed
            e.Property(p => p.Phone).HasMaxLength(20);
            e.Property(p => p.Country).HasMaxLength(2);
            e.Property(p => p.Locality).HasMaxLength(ProfileRules.LocalityMaxLength * 2);
            e.Property(p => p.Region).HasMaxLength(ProfileRules.RegionMaxLength * 2);
            e.Property(p => p.PostalCode).HasMaxLength(AddressRules.PostalCodeMaxLength);
            e.Property(p => p.Locale).HasMaxLength(ProfileRules.LocaleMaxLength);
            e.Property(p => p.TimeZone).HasMaxLength(ProfileRules.TimeZoneMaxLength);
            e.Property(p => p.Website).HasMaxLength(ProfileRules.WebsiteMaxLength);
            e.Property(p => p.AvatarHash).HasMaxLength(64);
        });
        modelBuilder.Entity<Avatar>(e =>
        {
            e.ToTable("avatars");
            e.HasKey(a => new { a.ProfileId, a.Size });
            e.Property(a => a.ProfileId).HasMaxLength(64);
            e.Property(a => a.Hash).HasMaxLength(64);
            // Erasing the profile erases its pictures, in the database itself.
            e.HasOne<UserProfile>().WithMany().HasForeignKey(a => a.ProfileId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
