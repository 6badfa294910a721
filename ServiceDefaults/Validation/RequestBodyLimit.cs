using System.Buffers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;

namespace SecurePlatform.ServiceDefaults.Validation;

/// <summary>
/// A body limit of an endpoint (group) below the service-wide <c>Security:MaxRequestBodyBytes</c>: the body is read
/// into memory before model binding, and one over the limit is a 413 problem before the handler (or any work such as
/// password hashing) runs — with or without a Content-Length, on Kestrel and in-memory hosts alike.
/// </summary>
public static class RequestBodyLimit
{
    public static TBuilder WithRequestBodyLimit<TBuilder>(this TBuilder builder, long maxBytes) where TBuilder : IEndpointConventionBuilder
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytes, RequestBodyLimitGuard.MaxBufferedBytes);
        // The framework's own metadata: routing also lowers Kestrel's limit to it.
        return builder.WithMetadata(new RequestSizeLimitAttribute(maxBytes));
    }

    internal static IResult TooLarge() => TypedResults.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "Payload too large.",
        detail: "The request body is too large.");
}

/// <summary>Applies <see cref="RequestBodyLimit"/> to endpoints whose limit says so (buffered, so bounded).</summary>
internal sealed class RequestBodyLimitGuard(RequestDelegate next)
{
    /// <summary>Bodies buffered in memory: small JSON requests only; uploads stream under their own limit.</summary>
    public const long MaxBufferedBytes = 1024 * 1024;

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>() is not { MaxRequestBodySize: { } limit and <= MaxBufferedBytes })
        {
            await next(context);
            return;
        }
        if (context.Request.ContentLength > limit)
        {
            await RequestBodyLimit.TooLarge().ExecuteAsync(context);
            return;
        }
        var buffer = ArrayPool<byte>.Shared.Rent((int)limit + 1);
        try
        {
            var length = 0;
            try
            {
                int read;
                while (length <= limit && (read = await context.Request.Body.ReadAsync(buffer.AsMemory(length, (int)limit + 1 - length), context.RequestAborted)) > 0)
                {
                    length += read;
                }
            }
            catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                length = (int)limit + 1; // Kestrel's own limit (lowered by routing to this one) said so first
            }
            if (length > limit)
            {
                await RequestBodyLimit.TooLarge().ExecuteAsync(context);
                return;
            }
            context.Request.Body = new MemoryStream(buffer, 0, length, writable: false);
            await next(context);
        }
        finally
        {
            // The body may hold a password: do not leave it in a pooled buffer.
            Array.Clear(buffer);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
