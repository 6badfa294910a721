namespace SecurePlatform.Audit.Model;

/// <summary>
/// One row of the append-only audit log. <see cref="Sequence"/> is the chain order; <see cref="Hash"/> is the
/// SHA-256 of the row's canonical form (which includes <see cref="PrevHash"/>, the hash of the row before).
/// </summary>
public sealed class AuditEvent
{
    public long Sequence { get; set; }

    public Guid EventId { get; set; }

    /// <summary>The contract's short type name, e.g. <c>LoginSucceeded</c>.</summary>
    public string Type { get; set; } = "";

    public DateTimeOffset OccurredAt { get; set; }

    public DateTimeOffset RecordedAt { get; set; }

    public string? Actor { get; set; }

    public string? Subject { get; set; }

    public string SourceService { get; set; } = "";

    public string? Ip { get; set; }

    public string? UserAgent { get; set; }

    public string? CorrelationId { get; set; }

    /// <summary>The event's typed fields (envelope removed) as canonical JSON; stored as jsonb.</summary>
    public string Payload { get; set; } = "{}";

    public byte[] PrevHash { get; set; } = [];

    public byte[] Hash { get; set; } = [];
}

/// <summary>Column limits of <c>audit_events</c>; incoming values are cut to these before they are hashed and stored.</summary>
public static class AuditLimits
{
    public const int Type = 100;
    public const int Actor = 200;
    public const int Subject = 200;
    public const int SourceService = 100;
    public const int Ip = 64;
    public const int UserAgent = 512;
    public const int CorrelationId = 128;

    /// <summary>Larger payloads are replaced by a marker (events are small typed records; this only guards the store).</summary>
    public const int PayloadBytes = 16 * 1024;
}
