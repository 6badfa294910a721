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
/// Turns the framework's binding failures (a <see cref="BadHttpRequestException"/>, thrown because
/// <c>ThrowOnBadRequest</c> is on) into the platform's validation problem naming the field:
/// <list type="bullet">
/// <item>a body that failed to deserialise (a <see cref="JsonException"/> inside): the member and why, by <see cref="StrictJson.Explain"/>;</item>
/// <item>a body that is missing or JSON <c>null</c>: <c>$</c>, <c>required</c>;</item>
/// <item>a route, query or header value that does not parse (<c>size=abc</c>): that parameter, <c>invalid</c>;</item>
/// <item>a required route, query or header value left out: that parameter, <c>required</c>.</item>
/// </list>
/// The framework says which parameter only in its message (its wording is fixed, not localised; an <c>[AsParameters]</c>
/// member's name is camelCased like a JSON path); anything else
/// (415, 413, …) goes on to the default handler.
/// </summary>
internal sealed partial class BindingFailureExceptionHandler(IOptions<JsonOptions> json) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException { StatusCode: StatusCodes.Status400BadRequest } bad || httpContext.Response.HasStarted
            || Explain(bad, httpContext, json.Value.SerializerOptions) is not { } failure)
        {
            return false;
        }
        httpContext.Response.StatusCode = StatusCodes.Status400BadRequest;
        await FieldErrors.One(failure.Field, failure.Rule, failure.Message).ExecuteAsync(httpContext);
        return true;
    }

    internal static (string Field, string Rule, string Message)? Explain(BadHttpRequestException bad, HttpContext httpContext, JsonSerializerOptions options)
    {
        if (bad.InnerException is JsonException jsonException)
        {
            // The exception handler has cleared the request's endpoint by now; the feature keeps it.
            var requestType = httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType;
            return StrictJson.Explain(jsonException, requestType, options);
        }
        if (bad.InnerException is not null)
        {
            return null;
        }
        if (ImplicitBodyMissing().IsMatch(bad.Message) || RequiredMissing().Match(bad.Message) is { Success: true, Groups: var g } && g["source"].Value == "body")
        {
            return ("$", "required", "A JSON object is required.");
        }
        if (RequiredMissing().Match(bad.Message) is { Success: true } missing)
        {
            return (ValidationExtensions.JsonPath(missing.Groups["name"].Value), "required", "A value is required.");
        }
        if (BindingFailed().Match(bad.Message) is { Success: true } failed)
        {
            // Never the value itself: it is the client's, and may be anything.
            return (ValidationExtensions.JsonPath(failed.Groups["name"].Value), "invalid", $"The value is not a valid {Describe(failed.Groups["type"].Value)}.");
        }
        return null;
    }

    private static string Describe(string typeName) => typeName.TrimEnd('?') switch
    {
        "int" or "long" or "short" or "byte" or "uint" or "ulong" or "Int32" or "Int64" => "whole number",
        "decimal" or "double" or "float" => "number",
        "bool" or "Boolean" => "boolean (true or false)",
        "Guid" => "UUID",
        "DateTimeOffset" or "DateTime" or "DateOnly" => "date (ISO 8601)",
        "TimeSpan" => "duration",
        _ => "value of this parameter",
    };

    [System.Text.RegularExpressions.GeneratedRegex("""^Implicit body inferred for parameter "[^"]+" but no body was provided""")]
    private static partial System.Text.RegularExpressions.Regex ImplicitBodyMissing();

    [System.Text.RegularExpressions.GeneratedRegex("""^Required parameter "(?<type>[^"]+) (?<name>[^" ]+)" was not provided from (?<source>[^.]+)\.""")]
    private static partial System.Text.RegularExpressions.Regex RequiredMissing();

    [System.Text.RegularExpressions.GeneratedRegex("""^Failed to bind parameter "(?<type>[^"]+) (?<name>[^" ]+)" from """)]
    private static partial System.Text.RegularExpressions.Regex BindingFailed();
}
