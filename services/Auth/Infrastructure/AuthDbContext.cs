using Microsoft.EntityFrameworkCore;
using SecurePlatform.ServiceDefaults.Messaging;

namespace SecurePlatform.Auth.Infrastructure;

public sealed class AuthDbContext(DbContextOptions<AuthDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddIntegrationEventTables();
    }
}
