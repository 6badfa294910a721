using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace SecurePlatform.ServiceDefaults.Validation;

/// <summary>
/// Which request content types a body may carry. Bodies are UTF-8 or binary: a <c>charset</c> parameter other
/// than a bare <c>utf-8</c> (any case) is refused with 415 — <c>bogus</c>, <c>utf-7</c>, <c>utf-16</c>, the quoted
/// <c>"utf-8"</c> and an empty one alike — so no decoder is ever chosen from what the client names (the framework
/// answered such a request with 500).
/// </summary>
public static class ContentTypeRules
{
    /// <summary>Null when acceptable, else the status (415, or 400 for a header that does not parse) and a detail.</summary>
    public static (int Status, string Detail)? Check(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return null; // the endpoint decides whether it needs a body (and answers 415 when it does)
        }
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media))
        {
            return (StatusCodes.Status400BadRequest, "The Content-Type header is malformed.");
        }
        if (media.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase)
            || media.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            return null; // form posts (OpenID Connect protocol endpoints, pages) are decoded by the form reader, not here
        }
        var charsets = media.Parameters.Where(p => p.Name.Equals("charset", StringComparison.OrdinalIgnoreCase)).ToList();
        if (charsets.Count == 0)
        {
            return null;
        }
        if (charsets.Count > 1 || !charsets[0].Value.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
        {
            return (StatusCodes.Status415UnsupportedMediaType, "Only UTF-8 is accepted: send charset=utf-8 or no charset.");
        }
        return null;
    }
}

/// <summary>Applies <see cref="ContentTypeRules"/> before any endpoint reads a body.</summary>
internal sealed class ContentTypeGuard(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (ContentTypeRules.Check(context.Request.ContentType) is not { } refusal)
        {
            return next(context);
        }
        return TypedResults.Problem(statusCode: refusal.Status, title: refusal.Status == StatusCodes.Status415UnsupportedMediaType ? "Unsupported media type." : "Bad request.", detail: refusal.Detail)
            .ExecuteAsync(context);
    }
}
