using System.Collections.Frozen;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using SecurePlatform.Contracts;

namespace SecurePlatform.Audit.Model;

/// <summary>Turns a consumed event into an unlinked audit row (the writer assigns sequence and hashes).</summary>
public static class AuditEntryFactory
{
    // Envelope members live in their own columns; everything else is the typed payload.
    private static readonly FrozenSet<string> EnvelopeMembers = new[]
    {
        "eventId", "occurredAt", "sourceService", "actor", "subject", "ipAddress", "userAgent", "correlationId",
    }.ToFrozenSet(StringComparer.Ordinal);

    public static AuditEvent Create(IntegrationEvent message, ActivityTraceId? consumerTraceId = null)
    {
        if (message.EventId == Guid.Empty)
        {
            throw new InvalidAuditEventException("the event has no EventId");
        }
        var type = message.GetType();
        return new AuditEvent
        {
            EventId = message.EventId,
            Type = TextSanitizer.Clip(type.Name, AuditLimits.Type)!,
            OccurredAt = AuditCanonicalForm.TruncateToMicroseconds(message.OccurredAt),
            Actor = TextSanitizer.Clip(message.Actor, AuditLimits.Actor),
            Subject = TextSanitizer.Clip(message.Subject, AuditLimits.Subject),
            SourceService = TextSanitizer.Clip(message.SourceService, AuditLimits.SourceService)!,
            Ip = TextSanitizer.Clip(message.IpAddress, AuditLimits.Ip),
            UserAgent = TextSanitizer.Clip(message.UserAgent, AuditLimits.UserAgent),
            // The producer's trace id when it stated one; otherwise the trace this consumer continues
            // (MassTransit carries the producer's traceparent through RabbitMQ).
            CorrelationId = TextSanitizer.Clip(
                string.IsNullOrEmpty(message.CorrelationId) ? consumerTraceId?.ToHexString() : message.CorrelationId,
                AuditLimits.CorrelationId),
            Payload = PayloadOf(message, type),
        };
    }

    public static string PayloadOf(IntegrationEvent message, Type type)
    {
        var element = JsonSerializer.SerializeToElement(message, type, JsonSerializerOptions.Web);
        var canonical = AuditCanonicalForm.CanonicalJson(element, EnvelopeMembers);
        return System.Text.Encoding.UTF8.GetByteCount(canonical) <= AuditLimits.PayloadBytes
            ? canonical
            : new JsonObject { ["bytes"] = System.Text.Encoding.UTF8.GetByteCount(canonical), ["truncated"] = true }.ToJsonString();
    }
}

/// <summary>An event that can never be stored (retrying cannot help); it ends in the error queue.</summary>
public sealed class InvalidAuditEventException(string message) : Exception(message);
