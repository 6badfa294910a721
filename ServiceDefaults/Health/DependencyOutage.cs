using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Polly.CircuitBreaker;
using Polly.Timeout;
using SecurePlatform.ServiceDefaults.Auth;
using StackExchange.Redis;

namespace SecurePlatform.ServiceDefaults.Health;

/// <summary>
/// "A dependency without which this request cannot be served is away": the service's database, or the
/// revocation store where the check fails closed. Every service answers it the same way — 503 problem+json
/// with <c>Retry-After</c>, at once — never 500 and never 401.
/// </summary>
public static class DependencyOutage
{
    public const string Title = "The service is temporarily unavailable.";
    public const string Detail = "A dependency is unavailable. Try again in a moment.";

    /// <summary>What a 503 asks the client to wait when nothing more specific is known.</summary>
    public static readonly TimeSpan DefaultRetryAfter = TimeSpan.FromSeconds(2);

    /// <summary>
    /// True for an exception (or one it wraps, as EF Core and MassTransit do) that means a dependency cannot be
    /// reached: a transient Npgsql error (connection refused or broken, server shutting down), a Redis
    /// connection failure or timeout, an open circuit, an exhausted timeout budget. A constraint violation or
    /// a bug is not one of these.
    /// </summary>
    public static bool IsOutage(Exception? exception)
    {
        for (var ex = exception; ex is not null; ex = ex.InnerException)
        {
            if (ex is NpgsqlException { IsTransient: true } or RedisConnectionException or RedisTimeoutException
                or RevocationStoreUnavailableException or RateLimiting.RateLimitStoreUnavailableException or BrokenCircuitException or TimeoutRejectedException or SocketException)
            {
                return true;
            }
            if (ex is AggregateException aggregate && aggregate.InnerExceptions.Any(IsOutage))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Writes the platform's 503: problem+json, generic title, trace id, <c>Retry-After</c>.</summary>
    public static async Task WriteProblemAsync(HttpContext http, TimeSpan? retryAfter = null)
    {
        http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        SetRetryAfter(http, retryAfter);
        var problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails { Status = StatusCodes.Status503ServiceUnavailable, Title = Title, Detail = Detail },
        });
    }

    /// <summary>Sets <c>Retry-After</c> (whole seconds, at least 1) unless the response already has one.</summary>
    public static void SetRetryAfter(HttpContext http, TimeSpan? retryAfter = null)
    {
        if (!http.Response.HasStarted && string.IsNullOrEmpty(http.Response.Headers.RetryAfter))
        {
            var seconds = Math.Max(1, (int)Math.Ceiling((retryAfter ?? DefaultRetryAfter).TotalSeconds));
            http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
