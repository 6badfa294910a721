using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace SecurePlatform.ServiceDefaults.Security;

/// <summary>
/// What a service calls itself comes from configuration (<c>Security:PublicBaseUrl</c>; token-service: its
/// issuer), never from the request's Host header, which any client sets to what it likes.
/// </summary>
public static class PublicHost
{
    /// <summary>Always accepted: probes and tools on the machine itself.</summary>
    public static readonly IReadOnlyList<string> LoopbackHosts = ["localhost", "127.0.0.1", "[::1]"];

    /// <summary>
    /// The hosts accepted outside Development: those <c>AllowedHosts</c> lists (';'-separated, "*." wildcards
    /// allowed, "*" alone ignored), the public base URL's host, and loopback.
    /// </summary>
    public static List<string> AllowedHosts(string? configured, Uri? publicBaseUrl) =>
        [.. (configured ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(h => h != "*")
            .Concat(publicBaseUrl is { IsAbsoluteUri: true } ? [publicBaseUrl.Host] : [])
            .Concat(LoopbackHosts)
            .Distinct(StringComparer.OrdinalIgnoreCase)];

    /// <summary>The OpenAPI server URL: the public base URL without its trailing slash (paths start with one).</summary>
    public static string? ServerUrl(Uri? publicBaseUrl) =>
        publicBaseUrl is { IsAbsoluteUri: true } ? publicBaseUrl.AbsoluteUri.TrimEnd('/') : null;
}

/// <summary>
/// The framework fills <c>servers</c> from the request's scheme and Host: a forged Host would be handed to every
/// client generated from the document. Without a configured URL there is no <c>servers</c> entry, which OpenAPI
/// reads as "where this document was fetched from".
/// </summary>
internal sealed class PublicServerTransformer(IOptionsMonitor<SecurityOptions> options) : IOpenApiDocumentTransformer
{
    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        var url = PublicHost.ServerUrl(options.CurrentValue.PublicBaseUrl);
        document.Servers = url is null ? [] : [new OpenApiServer { Url = url }];
        return Task.CompletedTask;
    }
}

/// <summary>
/// Puts <see cref="SecurityHeaders"/> in front of everything, the framework's host filtering included, so
/// its refusals carry the headers too.
/// </summary>
internal sealed class SecurityHeadersStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseMiddleware<SecurityHeaders>();
        next(app);
    };
}
