using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace SecurePlatform.ServiceDefaults.RateLimiting;

public static class RateLimitingExtensions
{
    /// <summary>
    /// Redis-shared rate limits (section <c>RateLimiting</c>) on every route: an endpoint's own policy
    /// (<see cref="RequireRateLimit{TBuilder}"/>) or the per-IP ceiling. <c>UseServiceDefaults</c> adds the middleware
    /// after forwarded headers (so the client IP is the trusted one) and before authentication (so a flood costs no
    /// token validation). Needs <c>AddPlatformRedis</c>.
    /// </summary>
    public static IHostApplicationBuilder AddPlatformRateLimiting(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitingOptions>()
            .BindConfiguration(RateLimitingOptions.SectionName)
            .PostConfigure(o => o.ApplyDefaults())
            .ValidateRulesOnStart(RateLimitingOptions.Validate)
            // A switch for measuring what the limiter costs, never for a deployment: it also turns off brute-force protection.
            .Validate(o => o.Enabled || !builder.Environment.IsProduction(), "RateLimiting:Enabled=false is for benchmarks and is refused in Production.");
        builder.Services.TryAddSingleton<RateLimitStore>();
        builder.Services.TryAddSingleton<RateLimitBudgetResolvers>();
        builder.Services.TryAddSingleton<PlatformRateLimiter>();
        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<PlatformRateLimiter>((o, limiter) =>
        {
            o.GlobalLimiter = limiter;
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests; // the framework's default is 503
            o.OnRejected = RateLimitRejection.OnRejectedAsync;
        });
        return builder;
    }

    /// <summary>Which budgets a request of <paramref name="policy"/> counts against, when it is not simply "per client IP".</summary>
    public static IServiceCollection AddRateLimitBudgets(this IServiceCollection services, string policy, RateLimitBudgetResolver resolver)
    {
        services.TryAddSingleton<RateLimitBudgetResolvers>();
        services.AddSingleton<IConfigureBudgets>(new ConfigureBudgets(policy, resolver));
        return services;
    }

    /// <summary>Counts the endpoint's requests against <paramref name="policy"/> instead of the ceiling.</summary>
    public static TBuilder RequireRateLimit<TBuilder>(this TBuilder builder, string policy) where TBuilder : IEndpointConventionBuilder
        => builder.WithMetadata(new RateLimitPolicyMetadata(policy));

    internal static bool HasPlatformRateLimiting(this IServiceProvider services) => services.GetService<RateLimitStore>() is not null;

    internal interface IConfigureBudgets
    {
        void Apply(RateLimitBudgetResolvers resolvers);
    }

    private sealed record ConfigureBudgets(string Policy, RateLimitBudgetResolver Resolver) : IConfigureBudgets
    {
        public void Apply(RateLimitBudgetResolvers resolvers) => resolvers.ByPolicy[Policy] = Resolver;
    }
}
