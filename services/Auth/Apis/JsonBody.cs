using Microsoft.AspNetCore.Http.HttpResults;
using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Net.Http.Headers;

namespace SecurePlatform.Auth.Apis;

/// <summary>The outcome of reading a JSON body: a value, or the problem to answer with.</summary>
public readonly record struct Body<T>(T? Value, IResult? Problem) where T : class;

/// <summary>
/// Reads the small JSON bodies of the auth endpoints strictly: <c>application/json</c> only (415), at most
/// <see cref="MaxBytes"/> (413, before any work such as Argon2 runs), camelCase member names exactly,
/// no unknown and no duplicate members. Every refusal is an RFC 9457 problem; a JSON error names the field
/// (its JSON path) and the rule, never a CLR type.
/// </summary>
public static class JsonBody
{
    /// <summary>An email, a 128-character password of 4-byte characters, escapes and a client id fit many times over.</summary>
    public const int MaxBytes = 8 * 1024;

    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNameCaseInsensitive = false,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        MaxDepth = 4,
    };

    public static async Task<Body<T>> ReadAsync<T>(HttpRequest request, CancellationToken cancellationToken) where T : class
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType)
            || !mediaType.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return new(null, TypedResults.Problem(
                statusCode: StatusCodes.Status415UnsupportedMediaType,
                title: "Unsupported media type.",
                detail: "Send the body as application/json."));
        }
        if (request.ContentLength > MaxBytes)
        {
            return new(null, TooLarge());
        }
        var buffer = ArrayPool<byte>.Shared.Rent(MaxBytes + 1);
        try
        {
            var length = 0;
            int read;
            while (length <= MaxBytes && (read = await request.Body.ReadAsync(buffer.AsMemory(length, MaxBytes + 1 - length), cancellationToken)) > 0)
            {
                length += read;
            }
            if (length > MaxBytes)
            {
                return new(null, TooLarge());
            }
            try
            {
                var value = JsonSerializer.Deserialize<T>(buffer.AsSpan(0, length), Options);
                return value is null
                    ? new(null, Invalid("$", "required", "A JSON object is required."))
                    : new(value, null);
            }
            catch (JsonException ex)
            {
                return new(null, Explain<T>(ex));
            }
        }
        finally
        {
            // The body holds a password: do not leave it in a pooled buffer.
            Array.Clear(buffer);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static IResult Explain<T>(JsonException ex)
    {
        var path = ex.Path ?? "$";
        var field = path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path;
        var known = Options.GetTypeInfo(typeof(T)).Properties.Any(p => p.Name == field);
        if (field != "$" && !known)
        {
            return Invalid(field, "unknownMember", "This member is not part of the request.");
        }
        return field == "$"
            ? Invalid("$", "json", "The body is not a well-formed JSON object of the expected shape.")
            : Invalid(field, "invalid", "The value has the wrong type or is given more than once.");
    }

    private static IResult Invalid(string field, string rule, string message)
    {
        var errors = new ValidationErrors();
        errors.Add(field, rule, message);
        return errors.ToResult();
    }

    private static ProblemHttpResult TooLarge() => TypedResults.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "Payload too large.",
        detail: "The request body is too large.");
}
