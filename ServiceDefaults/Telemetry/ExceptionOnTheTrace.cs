using System.Diagnostics;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace SecurePlatform.ServiceDefaults.Telemetry;

/// <summary>
/// Puts an exception that reached the exception handler on its request's span, as the OpenTelemetry
/// <c>exception</c> event. The ASP.NET Core instrumentation records only exceptions nobody handled, and every
/// exception here is handled (the problem-details answer), so without this the trace showed a 500 and no cause.
/// The message goes through <see cref="SensitiveDataScrubber"/> (exception messages carry emails, tokens and
/// addresses); the stack trace is frames only. Handles nothing itself: the next handler answers.
/// </summary>
internal sealed class ExceptionOnTheTrace : IExceptionHandler
{
    public ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is BadHttpRequestException)
        {
            return ValueTask.FromResult(false); // the client's mistake (a 4xx), not an error of ours
        }
        var span = httpContext.Features.Get<IHttpActivityFeature>()?.Activity ?? Activity.Current;
        span?.AddEvent(new ActivityEvent("exception", tags: new ActivityTagsCollection
        {
            ["exception.type"] = exception.GetType().FullName,
            ["exception.message"] = SensitiveDataScrubber.ScrubText(exception.Message),
            ["exception.stacktrace"] = exception.StackTrace,
        }));
        span?.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
        return ValueTask.FromResult(false);
    }
}
