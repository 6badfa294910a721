using SecurePlatform.ServiceDefaults.Validation;
using SecurePlatform.ServiceDefaults.RateLimiting;
using Microsoft.Extensions.Options;
using Npgsql;
using SecurePlatform.Audit.Infrastructure;
using SecurePlatform.Audit.IntegrationEvents;
using SecurePlatform.Audit.Model;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.Messaging;

namespace SecurePlatform.Audit.Extensions;

public static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // Runtime connections act as audit_writer (SELECT and INSERT on audit rows only); migrations keep the
        // owner's rights. NoResetOnClose: Npgsql's pool reset (DISCARD ALL) would drop the role again.
        builder.AddPlatformDbContext<AuditDbContext>("auditdb", dataSource =>
        {
            dataSource.ConnectionStringBuilder.NoResetOnClose = true;
            dataSource.UsePhysicalConnectionInitializer(
                connection =>
                {
                    using var command = new NpgsqlCommand($"SET ROLE {AuditSchema.WriterRole}", connection);
                    command.ExecuteNonQuery();
                },
                async connection =>
                {
                    await using var command = new NpgsqlCommand($"SET ROLE {AuditSchema.WriterRole}", connection);
                    await command.ExecuteNonQueryAsync();
                });
        });
        builder.AddPlatformRedis();
        // No outbox here (audit-service consumes, never publishes): its 429s are logged and counted, not audited.
        builder.AddPlatformRateLimiting();
        builder.AddDefaultAuthentication();
        builder.AddPlatformValidation(typeof(Extensions).Assembly);

        builder.Services.AddOptions<AuditIngestOptions>().BindConfiguration(AuditIngestOptions.SectionName).ValidateRulesOnStart(AuditIngestOptions.Validate);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<AuditWriter>();
        // Registered before the bus, so it stops after the consumers that wait on it.
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditWriter>());
        // Every event of the catalogue, whoever published it, on one queue; a type this build does not know
        // is a failure (to the error queue), not something to skip.
        builder.Services.AddOptions<IntegrationEventEndpointOptions>().Configure<IOptions<AuditIngestOptions>>((endpoint, ingest) =>
        {
            endpoint.QueueName = ingest.Value.QueueName;
            endpoint.PrefetchCount = ingest.Value.PrefetchCount;
        });
        builder.AddMessaging(bus => bus.AddIntegrationEventSink<AuditEventSink>(IntegrationEventCatalogue.All, takesEveryEvent: true));

        builder.Services.AddScoped<AuditStore>();
    }
}
