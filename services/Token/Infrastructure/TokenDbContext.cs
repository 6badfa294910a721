using Microsoft.EntityFrameworkCore;
using SecurePlatform.ServiceDefaults.Messaging;

namespace SecurePlatform.Token.Infrastructure;

public sealed class TokenDbContext(DbContextOptions<TokenDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddIntegrationEventTables();
    }
}
