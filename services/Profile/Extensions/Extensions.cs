using SecurePlatform.ServiceDefaults.RateLimiting;
using SecurePlatform.Profile.Infrastructure;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.Validation;
using SecurePlatform.Profile.IntegrationEvents;
using SecurePlatform.Profile.Apis;
using SecurePlatform.Profile.Model;

namespace SecurePlatform.Profile.Extensions;

public static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddPlatformDbContext<ProfileDbContext>("profiledb");
        builder.AddPlatformRedis();
        builder.AddMessaging(bus => bus.AddIntegrationEventConsumer<DeleteProfileOnUserDeleted>());
        builder.AddOutboxDispatcher<ProfileDbContext>();
        builder.AddPlatformRateLimiting();
        builder.Services.AddRateLimitBudgets(RateLimitPolicies.Upload, AvatarApi.UploadBudgetsAsync);
        builder.Services.AddOptions<AvatarOptions>().Bind(builder.Configuration.GetSection(AvatarOptions.SectionName)).ValidateRulesOnStart(AvatarOptions.Validate);
        builder.AddThrottleEvents<ProfileDbContext>(SecurePlatform.Contracts.Protocol.Services.Profile);
        builder.AddDefaultAuthentication();
        builder.AddPlatformValidation(typeof(Extensions).Assembly);
        builder.AddExportClients();
    }
}
