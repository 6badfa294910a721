using System.Diagnostics.Metrics;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Health;

namespace SecurePlatform.ServiceDefaults.RateLimiting;

/// <summary>
/// The one answer to "over the limit", whichever limit (the middleware's, the sign-in throttle's): 429
/// problem+json with a generic title, <c>Retry-After</c> in whole seconds, no hint of which budget or account, and a
/// (gated) <see cref="RequestThrottled"/> event.
/// </summary>
public static partial class RateLimitRejection
{
    public const string Title = "Too many requests.";
    public const string Detail = "Wait before trying again (see Retry-After).";

    private static readonly Meter Meter = new("SecurePlatform.RateLimiting");
    private static readonly Counter<long> Rejections = Meter.CreateCounter<long>("secureplatform.rate_limit.rejections", description: "Requests refused by a rate limit, by policy.");

    /// <summary>The middleware's <c>OnRejected</c>.</summary>
    internal static ValueTask OnRejectedAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        var lease = context.Lease;
        var policy = lease.TryGetMetadata(PlatformLease.PolicyName, out var p) ? p : RateLimitPolicies.Ceiling;
        var client = lease.TryGetMetadata(PlatformLease.ClientName, out var c) ? c : ClientPartition.Of(context.HttpContext.Connection.RemoteIpAddress);
        if (lease.TryGetMetadata(PlatformLease.UnavailableName, out var unavailable) && unavailable)
        {
            // A fail-closed budget could not be asked: the platform's outage answer, not "too many".
            return new ValueTask(DependencyOutage.WriteProblemAsync(context.HttpContext));
        }
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        return new ValueTask(WriteAsync(context.HttpContext, policy!, client!, retryAfter, cancellationToken));
    }

    /// <summary>Writes the 429 and records the event (when its gate lets it through).</summary>
    public static async Task WriteAsync(HttpContext http, string policy, string client, TimeSpan retryAfter, CancellationToken cancellationToken = default)
    {
        Rejections.Add(1, new KeyValuePair<string, object?>("policy", policy));
        await RecordAsync(http, policy, client, cancellationToken);
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = RetryAfterSeconds(retryAfter).ToString(CultureInfo.InvariantCulture);
        http.Response.Headers.CacheControl = "no-store";
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails { Status = StatusCodes.Status429TooManyRequests, Title = Title, Detail = Detail },
        });
    }

    /// <summary>An endpoint's result for the same answer (the sign-in throttle).</summary>
    public static IResult Result(string policy, string client, TimeSpan retryAfter) => new TooManyRequestsResult(policy, client, retryAfter);

    /// <summary>Whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3: delay-seconds).</summary>
    public static int RetryAfterSeconds(TimeSpan wait) => Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));

    private static async Task RecordAsync(HttpContext http, string policy, string client, CancellationToken cancellationToken)
    {
        var writer = http.RequestServices.GetService<IThrottleEventWriter>();
        if (writer is null)
        {
            return;
        }
        var store = http.RequestServices.GetRequiredService<RateLimitStore>();
        try
        {
            if (!await store.ShouldRecordEventAsync(policy, client, writer.SourceService, cancellationToken))
            {
                return;
            }
            await writer.WriteAsync(policy, http, cancellationToken);
        }
        catch (Exception ex) when (ex is RateLimitStoreUnavailableException || DependencyOutage.IsOutage(ex))
        {
            // The refusal stands; only its audit record is lost (logged and counted).
            LogEventNotRecorded(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RateLimitRejection)), policy, ex.GetType().Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "RequestThrottled ({Policy}) not recorded: {ExceptionType}")]
    private static partial void LogEventNotRecorded(ILogger logger, string policy, string exceptionType);

    private sealed class TooManyRequestsResult(string policy, string client, TimeSpan retryAfter) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext) => WriteAsync(httpContext, policy, client, retryAfter, httpContext.RequestAborted);
    }
}

/// <summary>
/// Where a service's <see cref="RequestThrottled"/> events go (its outbox: see the Messaging project's
/// <c>AddThrottleEvents</c>). Optional: without one, 429s are logged and counted only.
/// </summary>
public interface IThrottleEventWriter
{
    string SourceService { get; }

    /// <summary>Records that <paramref name="http"/> was throttled under <paramref name="policy"/>.</summary>
    Task WriteAsync(string policy, HttpContext http, CancellationToken cancellationToken);
}
