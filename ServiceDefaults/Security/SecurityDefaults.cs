using SecurePlatform.Contracts;
using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.HostFiltering;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using KestrelServerOptions = Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SecurePlatform.ServiceDefaults.Health;

namespace SecurePlatform.ServiceDefaults.Security;

public static class SecurityDefaults
{
    public static TBuilder AddSecurityDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var section = builder.Configuration.GetSection(SecurityOptions.SectionName);
        builder.Services.AddOptions<SecurityOptions>().Bind(section).ValidateRulesOnStart(SecurityOptions.Validate);
        var options = section.Get<SecurityOptions>() ?? new SecurityOptions();

        builder.Services.Configure<KestrelServerOptions>(kestrel =>
        {
            kestrel.AddServerHeader = false; // no "Server: Kestrel" (technology disclosure)
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            TransportSecurity.Apply(kestrel);
        });

        // Outermost middleware (ahead of host filtering): every response the pipeline writes gets the headers.
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IStartupFilter, SecurityHeadersStartupFilter>());
        if (!builder.Environment.IsDevelopment())
        {
            // Only the configured names; "*" (the template default) is not honoured outside Development.
            builder.Services.AddOptions<HostFilteringOptions>().PostConfigure<IConfiguration, IOptionsMonitor<SecurityOptions>>((hosts, configuration, security) =>
            {
                hosts.AllowedHosts = PublicHost.AllowedHosts(configuration["AllowedHosts"], security.CurrentValue.PublicBaseUrl);
                hosts.AllowEmptyHosts = false;
                hosts.IncludeFailureMessage = false; // an empty 400, not the framework's HTML page
            });
        }

        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ProblemDetailsPolicy.Apply);
        // Same behaviour in every environment: a bad request is a 400 problem, never an exception page.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = false);
        builder.Services.AddExceptionHandler<Telemetry.ExceptionOnTheTrace>(); // first: it only records, then passes on
        builder.Services.AddExceptionHandler<Health.DependencyOutageExceptionHandler>();
        builder.Services.Configure<ExceptionHandlerOptions>(o =>
            o.StatusCodeSelector = ex => ex switch
            {
                BadHttpRequestException bad => bad.StatusCode,
                // The database (or the revocation store) is away: 503 with Retry-After, like every other outage answer.
                _ when DependencyOutage.IsOutage(ex) => StatusCodes.Status503ServiceUnavailable,
                _ => StatusCodes.Status500InternalServerError,
            });

        builder.Services.AddHsts(hsts =>
        {
            hsts.MaxAge = TimeSpan.FromDays(365);
            hsts.IncludeSubDomains = true;
            hsts.ExcludedHosts.Clear(); // the default excludes localhost, so loopback tests would see no HSTS
        });

        builder.Services.Configure<ForwardedHeadersOptions>(fwd =>
        {
            fwd.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            // The framework trusts loopback proxies by default; we trust only what configuration names.
            fwd.KnownProxies.Clear();
            fwd.KnownIPNetworks.Clear();
            foreach (var proxy in options.KnownProxies)
            {
                fwd.KnownProxies.Add(IPAddress.Parse(proxy));
            }
            foreach (var network in options.KnownNetworks)
            {
                fwd.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
            }
        });

        builder.Services.AddCors(cors => cors.AddDefaultPolicy(policy =>
        {
            var origins = options.Cors.AllowedOrigins.Where(o => o != "*").ToArray();
            policy.WithOrigins(origins)
                .WithMethods("GET", "POST", "PUT", "DELETE")
                .WithHeaders("Authorization", "Content-Type", Protocol.RefreshCookie.RequestHeader)
                .SetPreflightMaxAge(TimeSpan.FromMinutes(10));
            if (options.Cors.AllowCredentials && origins.Length > 0)
            {
                policy.AllowCredentials();
            }
        }));
        return builder;
    }

    public static WebApplication UseSecurityDefaults(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<SecurityOptions>>().Value;
        if (options.KnownProxies.Count > 0 || options.KnownNetworks.Count > 0)
        {
            app.UseForwardedHeaders();
        }
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        if (!app.Environment.IsDevelopment())
        {
            app.UseHsts();
        }
        if (options.RequireHttps ?? !app.Environment.IsDevelopment())
        {
            app.UseMiddleware<RequireHttps>();
        }
        app.UseCors();
        return app;
    }

    /// <summary>
    /// In Production, exits with code 1 before anything starts when a required secret is missing, a known
    /// default or weak, or when the service has neither a TLS certificate nor a TLS-terminating proxy. The
    /// message names the setting, never the value.
    /// </summary>
    public static void EnsureProductionSecrets(this WebApplication app)
    {
        if (!app.Environment.IsProduction())
        {
            return;
        }
        var problems = app.Services.GetServices<RequiredSecret>()
            .DistinctBy(s => s.Setting)
            .Select(s => (s.Setting, Reason: SecretPolicy.Check(app.Configuration[s.Setting], s.Format)))
            .Where(p => p.Reason is not null)
            .Select(p => $"setting '{p.Setting}' {p.Reason}")
            .ToList();
        if (TransportSecurity.ProductionProblem(app.Configuration, app.Services.GetRequiredService<IOptions<SecurityOptions>>().Value) is { } tls)
        {
            problems.Add(tls);
        }
        problems.AddRange(app.Services.GetServices<RequiredSetting>()
            .DistinctBy(s => s.Setting)
            .Where(s => string.IsNullOrWhiteSpace(app.Configuration[s.Setting]))
            .Select(s => $"setting '{s.Setting}' is missing (it {s.Purpose})"));
        if (problems.Count == 0)
        {
            return;
        }
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("SecurePlatform.Secrets");
        foreach (var problem in problems)
        {
            logger.LogCritical("Refusing to start in Production: {Problem}.", problem);
            Console.Error.WriteLine($"Refusing to start in Production: {problem}.");
        }
        // Nothing has started yet (no listener, no hosted service), so a plain exit is clean here.
        Environment.Exit(1);
    }

    /// <summary>Declares a setting (not a secret: a path, say) that Production must have.</summary>
    public static IServiceCollection AddRequiredInProduction(this IServiceCollection services, string setting, string purpose)
        => services.AddSingleton(new RequiredSetting(setting, purpose));

    /// <summary>Declares a setting that must hold a strong secret in Production.</summary>
    public static IServiceCollection AddRequiredSecret(this IServiceCollection services, string setting, SecretFormat format = SecretFormat.Plain)
        => services.AddSingleton(new RequiredSecret(setting, format));
}

/// <summary>Problem details for every error: a trace id always; for 5xx nothing but a generic title.</summary>
public static class ProblemDetailsPolicy
{
    public static void Apply(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        problem.Extensions["traceId"] = Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier;
        problem.Instance = null;
        if (problem.Status == StatusCodes.Status503ServiceUnavailable)
        {
            // A dependency outage: say so (the client should retry), but nothing about which one or why.
            problem.Title = DependencyOutage.Title;
            problem.Detail = DependencyOutage.Detail;
            DependencyOutage.SetRetryAfter(context.HttpContext);
            foreach (var key in problem.Extensions.Keys.Where(k => k != "traceId").ToList())
            {
                problem.Extensions.Remove(key);
            }
        }
        else if (problem.Status >= 500)
        {
            problem.Title = "An unexpected error occurred.";
            problem.Detail = null;
            foreach (var key in problem.Extensions.Keys.Where(k => k != "traceId").ToList())
            {
                problem.Extensions.Remove(key);
            }
        }
        else if (context.Exception is BadHttpRequestException bad)
        {
            // The framework's message names parameter and CLR types; say what is wrong, not how we are built.
            problem.Detail = bad.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => "The request body is too large.",
                StatusCodes.Status415UnsupportedMediaType => "The request content type is not supported.",
                _ => "The request is malformed.",
            };
        }
    }
}
