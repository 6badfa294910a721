using Microsoft.EntityFrameworkCore;
using SecurePlatform.ServiceDefaults.Messaging;

namespace SecurePlatform.Audit.Infrastructure;

public sealed class AuditDbContext(DbContextOptions<AuditDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddIntegrationEventTables();
    }
}
