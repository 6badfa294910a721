using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;
using Sentry.AspNetCore;

namespace SecurePlatform.ServiceDefaults.Telemetry;

/// <summary>
/// Unhandled exceptions and 5xx answers go on the trace (OpenTelemetry, see ConfigureOpenTelemetry) and, when
/// <c>Sentry:Dsn</c> is configured, to Sentry: without personal data (<c>SendDefaultPii</c> off, no request
/// bodies) and through <see cref="SensitiveDataScrubber"/>. Nothing is sent anywhere without a DSN.
/// </summary>
public static class ErrorMonitoring
{
    public const string DsnSetting = "Sentry:Dsn";

    public static void AddErrorMonitoring(this IHostApplicationBuilder builder)
    {
        if (string.IsNullOrWhiteSpace(builder.Configuration[DsnSetting]) || builder is not WebApplicationBuilder web)
        {
            return;
        }
        web.WebHost.UseSentry((SentryAspNetCoreOptions o) =>
        {
            o.SendDefaultPii = false;
            o.MaxRequestBodySize = Sentry.Extensibility.RequestSize.None;
            o.Environment = builder.Environment.EnvironmentName;
            o.ServerName = "";
            o.AttachStacktrace = true;
            o.SetBeforeSend((evt, _) => SensitiveDataScrubber.Scrub(evt));
            o.SetBeforeSendTransaction((transaction, _) => null); // traces go to OpenTelemetry, not here
            o.SetBeforeBreadcrumb((breadcrumb, _) => SensitiveDataScrubber.Scrub(breadcrumb));
            o.TracesSampleRate = 0;
        });
    }
}
