using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.ServiceDefaults.Auth;

namespace SecurePlatform.Auth.Extensions;

public static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<AuthDbContext>("authdb");
        builder.AddRedis();
        builder.AddMessaging();
        builder.AddOutboxDispatcher<AuthDbContext>();
        builder.AddDefaultAuthentication();
    }
}
