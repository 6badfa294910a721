using Microsoft.EntityFrameworkCore;
using SecurePlatform.Audit.Model;
using SecurePlatform.Messaging;

namespace SecurePlatform.Audit.Infrastructure;

public sealed class AuditDbContext(DbContextOptions<AuditDbContext> options) : DbContext(options)
{
    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddIntegrationEventTables();
        modelBuilder.Entity<AuditEvent>(e =>
        {
            e.ToTable(AuditSchema.Table);
            e.HasKey(a => a.Sequence);
            e.Property(a => a.Sequence).ValueGeneratedNever();
            e.HasIndex(a => a.EventId).IsUnique();
            e.Property(a => a.Type).HasMaxLength(AuditLimits.Type);
            e.Property(a => a.Actor).HasMaxLength(AuditLimits.Actor);
            e.Property(a => a.Subject).HasMaxLength(AuditLimits.Subject);
            e.Property(a => a.SourceService).HasMaxLength(AuditLimits.SourceService);
            e.Property(a => a.Ip).HasMaxLength(AuditLimits.Ip);
            e.Property(a => a.UserAgent).HasMaxLength(AuditLimits.UserAgent);
            e.Property(a => a.CorrelationId).HasMaxLength(AuditLimits.CorrelationId);
            e.Property(a => a.Payload).HasColumnType("jsonb");
            // One user's newest page, and one type's newest page, are index range scans at any table size.
            e.HasIndex(a => new { a.Subject, a.Sequence }).IsDescending(false, true).HasDatabaseName("ix_audit_events_subject_sequence");
            e.HasIndex(a => new { a.Type, a.Sequence }).IsDescending(false, true).HasDatabaseName("ix_audit_events_type_sequence");
            e.HasIndex(a => a.OccurredAt);
        });
    }
}

/// <summary>Names the migrations and the runtime share.</summary>
public static class AuditSchema
{
    public const string Table = "audit_events";

    /// <summary>The role runtime connections switch to: SELECT and INSERT on <see cref="Table"/>, nothing else.</summary>
    public const string WriterRole = "audit_writer";

    /// <summary>Key of the transaction-scoped advisory lock that serialises chain appends across instances.</summary>
    public const long ChainLockKey = 0x005E_C0A0_D17C_4A1D;

    public const string AppendOnlyTrigger = "audit_events_append_only";
}
