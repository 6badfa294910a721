using SecurePlatform.Audit.Infrastructure;
using SecurePlatform.ServiceDefaults.Auth;

namespace SecurePlatform.Audit.Extensions;

public static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<AuditDbContext>("auditdb");
        builder.AddRedis();
        builder.AddMessaging();
        builder.AddOutboxDispatcher<AuditDbContext>();
        builder.AddDefaultAuthentication();
    }
}
