using Microsoft.EntityFrameworkCore;
using SecurePlatform.ServiceDefaults.Messaging;

namespace SecurePlatform.Profile.Infrastructure;

public sealed class ProfileDbContext(DbContextOptions<ProfileDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddIntegrationEventTables();
    }
}
