using Microsoft.AspNetCore.Http;

namespace SecurePlatform.ServiceDefaults.Security;

/// <summary>
/// Security headers on every response, written when the response starts so that error responses (which
/// the exception handler clears and rewrites) carry them too. Values: security-reference.md §5.1.
/// </summary>
public sealed class SecurityHeaders(RequestDelegate next)
{
    public const string ApiContentSecurityPolicy = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public const string PermissionsPolicy =
        "accelerometer=(), autoplay=(), camera=(), cross-origin-isolated=(), display-capture=(), encrypted-media=(), " +
        "fullscreen=(), geolocation=(), gyroscope=(), keyboard-map=(), magnetometer=(), microphone=(), midi=(), " +
        "payment=(), picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), sync-xhr=(self), " +
        "usb=(), web-share=(), xr-spatial-tracking=(), clipboard-read=(), clipboard-write=(), gamepad=(), hid=(), " +
        "idle-detection=(), interest-cohort=(), serial=(), unload=()";

    public Task InvokeAsync(HttpContext context)
    {
        context.Response.OnStarting(static state =>
        {
            var headers = ((HttpContext)state).Response.Headers;
            headers.ContentSecurityPolicy = headers.ContentSecurityPolicy.Count > 0 ? headers.ContentSecurityPolicy : ApiContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers["Permissions-Policy"] = PermissionsPolicy;
            headers["Cross-Origin-Opener-Policy"] = "same-origin";
            headers["Cross-Origin-Resource-Policy"] = "same-origin";
            headers["Cross-Origin-Embedder-Policy"] = "require-corp";
            headers["X-Permitted-Cross-Domain-Policies"] = "none";
            if (headers.CacheControl.Count == 0)
            {
                // API responses carry tokens or personal data more often than not: never cache by default.
                headers.CacheControl = "no-store";
            }
            headers.Remove("Server");
            headers.Remove("X-Powered-By");
            return Task.CompletedTask;
        }, context);
        return next(context);
    }
}

/// <summary>
/// Plain HTTP gets a 400 problem instead of a redirect: a client that leaked a token over HTTP should fail
/// loudly (ASVS V4.1.2). Probes stay reachable over HTTP inside a cluster.
/// </summary>
public sealed class RequireHttps(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context, IProblemDetailsService problems)
    {
        if (context.Request.IsHttps
            || context.Request.Path.StartsWithSegments(Microsoft.Extensions.Hosting.ServiceDefaultsExtensions.HealthPath)
            || context.Request.Path.StartsWithSegments(Microsoft.Extensions.Hosting.ServiceDefaultsExtensions.AlivePath))
        {
            await next(context);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = 400, Title = "HTTPS is required.", Detail = "Send this request over HTTPS." },
        });
    }
}
