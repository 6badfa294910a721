using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using SecurePlatform.ServiceDefaults.Health;
using SecurePlatform.ServiceDefaults.RateLimiting;
using SecurePlatform.ServiceDefaults.Security;
using SecurePlatform.ServiceDefaults.Telemetry;
using SecurePlatform.ServiceDefaults.Validation;
using Scalar.AspNetCore;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every SecurePlatform service shares: telemetry, health, service discovery, resilience and the
/// security defaults of the architecture. Program.cs calls <see cref="AddServiceDefaults{TBuilder}"/>,
/// then <see cref="UseServiceDefaults"/> and <see cref="MapDefaultEndpoints"/>.
/// </summary>
public static class ServiceDefaultsExtensions
{
    public const string HealthPath = "/health";
    public const string AlivePath = "/alive";

    public const string ScalarContentSecurityPolicy =
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddErrorMonitoring();
        builder.AddDefaultHealthChecks();
        builder.AddSecurityDefaults();
        builder.AddGracefulShutdown();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });
        builder.Services.AddOpenApi(openApi =>
        {
            openApi.AddDocumentTransformer<PublicServerTransformer>();
            openApi.AddSchemaTransformer<ValidationSchemaTransformer>(); // each field's rules (a no-op without validators)
        });
        return builder;
    }

    /// <summary>
    /// SIGTERM: the web server stops accepting and lets in-flight requests finish, then the outbox publishes what they
    /// committed, then the bus stops, all within <c>HostOptions:ShutdownTimeout</c>. Its default (25 s) is below
    /// Kubernetes' default termination grace period (30 s), so the host ends itself before it would be killed.
    /// </summary>
    public static TBuilder AddGracefulShutdown<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(25));
        builder.Services.Configure<HostOptions>(builder.Configuration.GetSection("HostOptions"));
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("Npgsql")
                .AddMeter("SecurePlatform.RateLimiting"))
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddSource(Telemetry.ActivitySourceName)
                .AddAspNetCoreInstrumentation(o =>
                {
                    // Probes would drown the traces that matter.
                    o.Filter = context => !context.Request.Path.StartsWithSegments(HealthPath)
                                          && !context.Request.Path.StartsWithSegments(AlivePath);
                    // An exception nobody handled becomes an event on its request's span (5xx marks the span as an
                    // error); the exception handler's own ones are put there, scrubbed, by ExceptionOnTheTrace.
                    o.RecordException = true;
                })
                .AddHttpClientInstrumentation()
                .AddNpgsql());

        // Export only where a collector is configured (the Aspire dashboard sets this); nowhere otherwise.
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }
        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [HealthTags.Live]);
        return builder;
    }

    /// <summary>
    /// The request pipeline every service shares. Refuses to start in Production with missing, default or
    /// weak secrets (exit code 1, naming the setting, never the value).
    /// </summary>
    public static WebApplication UseServiceDefaults(this WebApplication app)
    {
        app.EnsureProductionSecrets();
        app.UseSecurityDefaults();
        if (app.Services.HasPlatformRateLimiting())
        {
            // After forwarded headers (the client IP is the trusted one), before authentication (a flood costs no
            // token validation or revocation check).
            app.UseRateLimiter();
        }
        if (app.Services.GetService<Microsoft.AspNetCore.Authentication.IAuthenticationSchemeProvider>() is not null)
        {
            app.UseAuthentication();
            app.UseAuthorization();
        }
        if (app.Services.HasPlatformValidation())
        {
            // After authentication: an anonymous caller learns nothing about what a body may look like.
            app.UsePlatformValidation();
        }
        return app;
    }

    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        // Probes reach these in every environment (the AppHost and Kubernetes need them). The response
        // names each check and its status only: no connection strings, no exception text.
        app.MapHealthChecks(HealthPath, new HealthCheckOptions
        {
            ResponseWriter = HealthResponseWriter.WriteAsync,
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                // Degraded = a dependency the design absorbs is away (the broker, behind the outbox): still serving.
                [HealthStatus.Degraded] = StatusCodes.Status200OK,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        }).DisableRateLimiting(); // probes must never be told "too many"

        app.MapHealthChecks(AlivePath, new HealthCheckOptions
        {
            Predicate = r => r.Tags.Contains(HealthTags.Live),
            ResponseWriter = HealthResponseWriter.WriteAsync,
        }).DisableRateLimiting();
        app.MapOpenApi("/openapi/{documentName}.json");
        if (app.Environment.IsDevelopment())
        {
            // The interactive reference (/scalar) reads the document above; never outside Development. Its page runs
            // the bundled script (no CDN, no web fonts), so it gets a CSP of its own instead of the API's 'none'.
            app.MapScalarApiReference("/scalar", o => o.DisableDefaultFonts())
                .AddEndpointFilter(async (context, next) =>
                {
                    context.HttpContext.Response.Headers.ContentSecurityPolicy = ScalarContentSecurityPolicy;
                    return await next(context);
                })
                .DisableRateLimiting();
        }
        return app;
    }
}

/// <summary>The platform's own ActivitySource (outbox dispatch, migrations).</summary>
public static class Telemetry
{
    public const string ActivitySourceName = "SecurePlatform";
    public static readonly ActivitySource Source = new(ActivitySourceName);
}
