using System.Globalization;
using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.Audit.Model;

/// <summary>A validated admin query: newest first, rows with sequence below <see cref="BeforeSequence"/>.</summary>
public sealed record AuditQuery(
    string? UserId,
    IReadOnlyList<string> Types,
    DateTimeOffset? From,
    DateTimeOffset? To,
    long? BeforeSequence,
    int Limit);

/// <summary>
/// Pure validation of the query string of <c>GET /audit/events</c> and <c>GET /audit/me</c>; errors name the field and the
/// rule code (the platform's <see cref="FieldErrors"/>). The values are parsed here, not bound: a cursor is decoded, a time
/// must carry its offset.
/// </summary>
public static class AuditQueryValidator
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;
    public const int MaxTypes = 30;
    public const int MaxUserIdLength = AuditLimits.Subject;

    public static (AuditQuery? Query, FieldErrors Errors) Validate(
        string? userId, string?[]? types, string? from, string? to, string? cursor, string? limit,
        int defaultLimit = DefaultLimit, int maxLimit = MaxLimit)
    {
        var errors = new FieldErrors();

        if (userId is not null && (userId.Length is 0 or > MaxUserIdLength || userId.Any(char.IsControl)))
        {
            errors.Add("userId", "format", $"must be 1 to {MaxUserIdLength} characters without control characters");
        }

        var typeList = new List<string>();
        if (types is { Length: > 0 })
        {
            if (types.Length > MaxTypes)
            {
                errors.Add("type", "maxItems", $"may be given at most {MaxTypes} times");
            }
            else
            {
                var unknown = types.Where(t => t is null || !AuditEventTypes.Names.Contains(t)).ToList();
                if (unknown.Count > 0)
                {
                    errors.Add("type", "enum", $"unknown event type '{Shorten(unknown[0])}'; one of: {string.Join(", ", AuditEventTypes.Names.Order(StringComparer.Ordinal))}");
                }
                typeList.AddRange(types.Where(t => t is not null).Select(t => t!).Distinct(StringComparer.Ordinal));
            }
        }

        var fromValue = ParseTime("from", from, errors);
        var toValue = ParseTime("to", to, errors);
        if (fromValue is not null && toValue is not null && fromValue > toValue)
        {
            errors.Add("to", "range", "must not be earlier than 'from'");
        }

        long? before = null;
        if (cursor is not null)
        {
            if (AuditCursor.TryDecode(cursor, out var decoded))
            {
                before = decoded;
            }
            else
            {
                errors.Add("cursor", "cursor", "is not a cursor returned by this API");
            }
        }

        var limitValue = defaultLimit;
        if (limit is not null)
        {
            if (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out limitValue) || limitValue < 1 || limitValue > maxLimit)
            {
                errors.Add("limit", "range", $"must be an integer from 1 to {maxLimit}");
            }
        }

        return errors.Any
            ? (null, errors)
            : (new AuditQuery(userId, typeList, fromValue, toValue, before, limitValue), errors);
    }

    /// <summary>Validates an optional sequence range of <c>GET /audit/verify</c>.</summary>
    public static (long From, long? To, FieldErrors Errors) ValidateRange(string? from, string? to)
    {
        var errors = new FieldErrors();
        long fromValue = 1;
        long? toValue = null;
        if (from is not null && (!long.TryParse(from, NumberStyles.None, CultureInfo.InvariantCulture, out fromValue) || fromValue < 1))
        {
            errors.Add("from", "format", "must be a sequence number (an integer of at least 1)");
        }
        if (to is not null)
        {
            if (!long.TryParse(to, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed < 1)
            {
                errors.Add("to", "format", "must be a sequence number (an integer of at least 1)");
            }
            else
            {
                toValue = parsed;
            }
        }
        if (!errors.Any && toValue < fromValue)
        {
            errors.Add("to", "range", "must not be below 'from'");
        }
        return (fromValue, toValue, errors);
    }

    private static DateTimeOffset? ParseTime(string field, string? value, FieldErrors errors)
    {
        if (value is null)
        {
            return null;
        }
        // ISO 8601 with an explicit offset or Z; a bare local time would mean different instants to different callers.
        string[] formats = ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd"];
        if (value.Length <= 40
            && DateTimeOffset.TryParseExact(value, formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed)
            && (value.Length == 10 || value.EndsWith('Z') || value.Contains('+', StringComparison.Ordinal) || value.LastIndexOf('-') > 10))
        {
            return parsed;
        }
        errors.Add(field, "format", "must be an ISO 8601 date-time with an offset (e.g. 2026-01-31T12:00:00Z) or a date (yyyy-MM-dd, UTC)");
        return null;
    }

    private static string Shorten(string? value) => value is null ? "" : value.Length <= 40 ? value : value[..40] + "…";
}
