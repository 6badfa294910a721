using Npgsql;
using SecurePlatform.Audit.Infrastructure;
using SecurePlatform.Audit.IntegrationEvents;
using SecurePlatform.ServiceDefaults.Auth;

namespace SecurePlatform.Audit.Extensions;

public static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // Runtime connections act as audit_writer (SELECT and INSERT on audit rows only); migrations keep the
        // owner's rights. NoResetOnClose: Npgsql's pool reset (DISCARD ALL) would drop the role again.
        builder.AddNpgsqlDbContext<AuditDbContext>("auditdb", dataSource =>
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
        builder.AddRedis();
        builder.AddDefaultAuthentication();

        builder.Services.AddOptions<AuditIngestOptions>().BindConfiguration(AuditIngestOptions.SectionName);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<AuditWriter>();
        // Registered before the bus, so it stops after the consumers that wait on it.
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditWriter>());
        builder.AddMessaging(bus => bus.AddAuditConsumers());

        builder.Services.AddScoped<AuditStore>();
    }
}
