using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SecurePlatform.Messaging;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.RateLimiting;

namespace Microsoft.Extensions.Hosting;

public static class ThrottleEventExtensions
{
    /// <summary>Records <c>RequestThrottled</c> events (already gated by ServiceDefaults' limiter) through <typeparamref name="TContext"/>'s outbox.</summary>
    public static IHostApplicationBuilder AddThrottleEvents<TContext>(this IHostApplicationBuilder builder, string sourceService)
        where TContext : DbContext
    {
        builder.Services.AddSingleton<IThrottleEventWriter>(sp => new OutboxThrottleEventWriter<TContext>(sp.GetRequiredService<IServiceScopeFactory>(), sourceService));
        return builder;
    }
}

/// <summary>Writes the event to <typeparamref name="TContext"/>'s outbox in a transaction of its own (nothing else changes on a 429).</summary>
internal sealed class OutboxThrottleEventWriter<TContext>(IServiceScopeFactory scopes, string sourceService) : IThrottleEventWriter
    where TContext : DbContext
{
    public string SourceService => sourceService;

    public async Task WriteAsync(string policy, HttpContext http, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TContext>();
        db.AddIntegrationEvent(new RequestThrottled { Policy = policy }.Stamp(sourceService, http, actor: null, subject: null));
        // Not the caller's token: once the gate let it through, the event is written even if the caller has gone.
        await db.SaveChangesAsync(CancellationToken.None);
    }
}
