using Microsoft.EntityFrameworkCore;
using SecurePlatform.Messaging;
using SecurePlatform.Token.Model;

namespace SecurePlatform.Token.Infrastructure;

public sealed class TokenDbContext(DbContextOptions<TokenDbContext> options) : DbContext(options)
{
    public DbSet<Session> Sessions => Set<Session>();

    public DbSet<SigningKey> SigningKeys => Set<SigningKey>();

    public DbSet<Grant> Grants => Set<Grant>();

    public DbSet<RedeemedCode> RedeemedCodes => Set<RedeemedCode>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddIntegrationEventTables();
        modelBuilder.UseOpenIddict();
        modelBuilder.Entity<Session>(e =>
        {
            e.ToTable("sessions");
            e.HasKey(s => s.Id);
            e.Property(s => s.Subject).HasMaxLength(200);
            e.Property(s => s.ClientId).HasMaxLength(100);
            e.Property(s => s.IpAddress).HasMaxLength(64);
            e.Property(s => s.UserAgent).HasMaxLength(512);
            e.Property(s => s.RevokedReason).HasMaxLength(64);
            e.Property(s => s.Email).HasMaxLength(320);
            e.HasIndex(s => s.Subject).HasFilter("revoked_at IS NULL");
            e.HasIndex(s => s.BrowserSessionId).HasFilter("browser_session_id IS NOT NULL AND revoked_at IS NULL");
            // The back-channel logouts still owed, per client (BackchannelLogoutDelivery's claim).
            e.HasIndex(s => new { s.ClientId, s.RevokedAt }).HasFilter("revoked_at IS NOT NULL AND backchannel_logout_done_at IS NULL");
        });
        modelBuilder.Entity<Grant>(e =>
        {
            e.ToTable("grants");
            e.HasKey(g => g.Id);
            e.Property(g => g.Subject).HasMaxLength(200);
            e.Property(g => g.ClientId).HasMaxLength(100);
            e.HasIndex(g => new { g.Subject, g.ClientId }).IsUnique();
        });
        modelBuilder.Entity<RedeemedCode>(e =>
        {
            e.ToTable("redeemed_codes");
            e.HasKey(c => c.CodeId);
            e.HasIndex(c => c.ExpiresAt);
        });
        modelBuilder.Entity<SigningKey>(e =>
        {
            e.ToTable("signing_keys");
            e.HasKey(k => k.Id);
            e.Property(k => k.Id).HasMaxLength(64);
            e.Property(k => k.Use).HasMaxLength(16);
            e.Property(k => k.Algorithm).HasMaxLength(16);
        });
    }
}
