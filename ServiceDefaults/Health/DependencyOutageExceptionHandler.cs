using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace SecurePlatform.ServiceDefaults.Health;

/// <summary>
/// An outage that reached the exception handler (<see cref="DependencyOutage.IsOutage"/>: the database, the revocation
/// or rate-limit store is away) is an expected answer, not a bug: the 503 problem with <c>Retry-After</c> and one
/// warning line. Handled here, the middleware no longer logs it as an unhandled exception with a stack trace
/// (.NET 10 suppresses diagnostics for exceptions an <see cref="IExceptionHandler"/> handled), so a Redis restart
/// does not page anyone as an application error. Everything else falls through to the generic 500.
/// </summary>
internal sealed partial class DependencyOutageExceptionHandler(ILogger<DependencyOutageExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!DependencyOutage.IsOutage(exception) || httpContext.Response.HasStarted)
        {
            return false;
        }
        LogOutage(httpContext.Request.Method, httpContext.GetEndpoint()?.DisplayName, Innermost(exception).GetType().Name);
        await DependencyOutage.WriteProblemAsync(httpContext);
        return true;
    }

    private static Exception Innermost(Exception exception)
    {
        var ex = exception;
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }
        return ex;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Endpoint} answered 503: a dependency is unavailable ({ExceptionType})")]
    private partial void LogOutage(string method, string? endpoint, string exceptionType);
}
