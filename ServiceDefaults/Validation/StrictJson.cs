using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace SecurePlatform.ServiceDefaults.Validation;

/// <summary>
/// Request bodies are read strictly (OWASP ASVS V1.5.3: parsers must agree): member names exactly as documented
/// (camelCase, case-sensitive), no member the request type does not have, no member twice. System.Text.Json's
/// web defaults accept all three (case-insensitive names, unknown members ignored, the last duplicate wins).
/// </summary>
public static class StrictJson
{
    public static void Apply(JsonSerializerOptions options)
    {
        options.PropertyNameCaseInsensitive = false;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.AllowDuplicateProperties = false;
        options.ReadCommentHandling = JsonCommentHandling.Disallow;
        options.AllowTrailingCommas = false;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.MaxDepth = 16;
    }

    /// <summary>
    /// The field and rule a deserialisation failure is about, by walking the failure's JSON path through the
    /// request type's contract: a member the type does not have is <c>unknownMember</c> (a wrong-case name is one);
    /// a known member that failed is <c>invalid</c> (wrong type, or given twice); the body itself is <c>json</c>.
    /// </summary>
    public static (string Field, string Rule, string Message) Explain(JsonException exception, Type? requestType, JsonSerializerOptions options)
    {
        var path = exception.Path ?? "$";
        var field = path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path == "$" ? "$" : path.TrimStart('$');
        if (field == "$" || requestType is null)
        {
            return ("$", "json", "The body is not a well-formed UTF-8 JSON document of the expected shape.");
        }
        return IsKnown(field, requestType, options)
            ? (field, "invalid", "The value has the wrong type, or the member is given more than once.")
            : (field, "unknownMember", "This member is not part of the request (member names are case-sensitive camelCase).");
    }

    private static bool IsKnown(string field, Type type, JsonSerializerOptions options)
    {
        foreach (var segment in field.Split('.'))
        {
            var name = segment;
            var bracket = name.IndexOf('[', StringComparison.Ordinal);
            var indexed = bracket >= 0;
            if (indexed)
            {
                name = name[..bracket];
            }
            var info = options.GetTypeInfo(type);
            if (info.Kind != JsonTypeInfoKind.Object)
            {
                return false;
            }
            var property = info.Properties.FirstOrDefault(p => p.Name == name);
            if (property is null)
            {
                return false;
            }
            type = property.PropertyType;
            if (indexed)
            {
                var element = options.GetTypeInfo(type).ElementType;
                if (element is null)
                {
                    return false;
                }
                type = element;
            }
        }
        return true;
    }
}

/// <summary>
/// Turns the framework's "failed to read the JSON body" (a <see cref="BadHttpRequestException"/> around a
/// <see cref="JsonException"/>) into the platform's validation problem naming the member; everything else goes on
/// to the default handler.
/// </summary>
internal sealed class JsonBodyExceptionHandler(IOptions<JsonOptions> json) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException { InnerException: JsonException jsonException } || httpContext.Response.HasStarted)
        {
            return false;
        }
        // The exception handler has cleared the request's endpoint by now; the feature keeps it.
        var requestType = httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType;
        var (field, rule, message) = StrictJson.Explain(jsonException, requestType, json.Value.SerializerOptions);
        httpContext.Response.StatusCode = StatusCodes.Status400BadRequest;
        await FieldErrors.One(field, rule, message).ExecuteAsync(httpContext);
        return true;
    }
}
