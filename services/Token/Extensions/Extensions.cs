using SecurePlatform.Token.Infrastructure;

namespace SecurePlatform.Token.Extensions;

public static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDbContext<TokenDbContext>("tokendb");
        builder.AddRedis();
        builder.AddMessaging();
        builder.AddOutboxDispatcher<TokenDbContext>();
    }
}
