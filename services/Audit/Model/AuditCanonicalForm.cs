using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace SecurePlatform.Audit.Model;

/// <summary>
/// The canonical serialisation a row's hash is computed over. Deterministic and stable across the jsonb round
/// trip: payload keys sorted ordinally, no whitespace, numbers as written, strings sanitised; timestamps in UTC
/// with microseconds (what PostgreSQL keeps); every field in a fixed position of one JSON array, so no two
/// different rows share a canonical form.
/// </summary>
public static class AuditCanonicalForm
{
    /// <summary>Version tag at the head of the array; a future change of the form bumps it.</summary>
    public const string Version = "audit-v1";

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Indented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = false,
    };

    public static byte[] Serialize(AuditEvent row)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartArray();
            writer.WriteStringValue(Version);
            writer.WriteNumberValue(row.Sequence);
            writer.WriteStringValue(row.EventId.ToString("D"));
            writer.WriteStringValue(row.Type);
            writer.WriteStringValue(FormatTimestamp(row.OccurredAt));
            writer.WriteStringValue(FormatTimestamp(row.RecordedAt));
            WriteNullable(writer, row.Actor);
            WriteNullable(writer, row.Subject);
            writer.WriteStringValue(row.SourceService);
            WriteNullable(writer, row.Ip);
            WriteNullable(writer, row.UserAgent);
            WriteNullable(writer, row.CorrelationId);
            using (var payload = JsonDocument.Parse(row.Payload))
            {
                WriteCanonical(writer, payload.RootElement);
            }
            writer.WriteStringValue(Convert.ToHexStringLower(row.PrevHash));
            writer.WriteEndArray();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Canonical JSON of any JSON value: objects with ordinally sorted keys, no whitespace.</summary>
    public static string CanonicalJson(JsonElement element, IReadOnlySet<string>? skipTopLevel = null)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            WriteCanonical(writer, element, skipTopLevel);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>UTC, microsecond precision (PostgreSQL's timestamptz resolution), fixed width.</summary>
    public static string FormatTimestamp(DateTimeOffset value) =>
        TruncateToMicroseconds(value).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    public static DateTimeOffset TruncateToMicroseconds(DateTimeOffset value)
    {
        var utc = value.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - (utc.Ticks % 10), TimeSpan.Zero);
    }

    private static void WriteNullable(Utf8JsonWriter writer, string? value)
    {
        if (value is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            writer.WriteStringValue(value);
        }
    }

    private static void WriteCanonical(Utf8JsonWriter writer, JsonElement element, IReadOnlySet<string>? skip = null)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject()
                    .Where(p => skip is null || !skip.Contains(p.Name))
                    .Select(p => (Name: TextSanitizer.Clean(p.Name), p.Value))
                    .OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    WriteCanonical(writer, property.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    WriteCanonical(writer, item);
                }
                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                writer.WriteStringValue(TextSanitizer.Clean(element.GetString()!));
                break;
            case JsonValueKind.Number:
                // Plain decimal form, as jsonb's numeric prints it (1E+2 and 100 are one value).
                if (element.TryGetDecimal(out var number))
                {
                    writer.WriteNumberValue(number);
                }
                else
                {
                    writer.WriteRawValue(element.GetRawText(), skipInputValidation: true);
                }
                break;
            case JsonValueKind.True:
                writer.WriteBooleanValue(true);
                break;
            case JsonValueKind.False:
                writer.WriteBooleanValue(false);
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }
}

/// <summary>Makes text storable in PostgreSQL and stable under hashing: no NUL, no lone surrogates, bounded length.</summary>
public static class TextSanitizer
{
    public static string Clean(string value)
    {
        if (!NeedsCleaning(value))
        {
            return value;
        }
        var builder = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                builder.Append('\uFFFD');
            }
            else if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                builder.Append(c).Append(value[++i]);
            }
            else if (char.IsSurrogate(c))
            {
                builder.Append('\uFFFD');
            }
            else
            {
                builder.Append(c);
            }
        }
        return builder.ToString();
    }

    /// <summary>Cleans and cuts to <paramref name="maxLength"/> UTF-16 units (never splitting a surrogate pair); null stays null.</summary>
    public static string? Clip(string? value, int maxLength)
    {
        if (value is null)
        {
            return null;
        }
        var clean = Clean(value);
        if (clean.Length <= maxLength)
        {
            return clean;
        }
        var cut = char.IsHighSurrogate(clean[maxLength - 1]) ? maxLength - 1 : maxLength;
        return clean[..cut];
    }

    private static bool NeedsCleaning(string value)
    {
        foreach (var c in value)
        {
            if (c == '\0' || char.IsSurrogate(c))
            {
                return true;
            }
        }
        return false;
    }
}
