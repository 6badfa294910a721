using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.Model;
using Microsoft.Extensions.Http.Resilience;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.RateLimiting;
using SecurePlatform.ServiceDefaults.Security;
using SecurePlatform.ServiceDefaults.Validation;
using SecurePlatform.Auth.IntegrationEvents;
using SecurePlatform.Auth.Services;

namespace SecurePlatform.Auth.Extensions;

public static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddPlatformDbContext<AuthDbContext>("authdb");
        builder.AddPlatformRedis();
        builder.AddMessaging();
        builder.AddOutboxDispatcher<AuthDbContext>();
        builder.AddPlatformRateLimiting();
        builder.AddThrottleEvents<AuthDbContext>(AuthEvents.SourceService);
        builder.AddDefaultAuthentication();
        builder.Services.AddAuthorization(Apis.CredentialsApi.AddTokenServicePolicy);
        builder.AddPlatformValidation(typeof(Extensions).Assembly);
        builder.AddAccounts();
        builder.AddTokenServiceClient();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddScoped<UserAdministration>();
        // After AddPlatformDbContext, whose migrator therefore runs first.
        builder.Services.AddHostedService<AdminBootstrapper>();
    }

    /// <summary>Identity on EF Core with the Argon2id hasher and the password policy as its only validator.</summary>
    public static IHostApplicationBuilder AddAccounts(this IHostApplicationBuilder builder)
    {
        builder.Services.AddIdentityCore<User>(identity =>
            {
                identity.User.RequireUniqueEmail = true;
                identity.User.AllowedUserNameCharacters = ""; // the user name is the normalised email; EmailAddress checks it
                // No composition rules (NIST SP 800-63B); PasswordPolicy decides.
                identity.Password.RequiredLength = PasswordPolicy.MinLength;
                identity.Password.RequireDigit = false;
                identity.Password.RequireLowercase = false;
                identity.Password.RequireUppercase = false;
                identity.Password.RequireNonAlphanumeric = false;
                identity.Password.RequiredUniqueChars = 1;
            })
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<AuthDbContext>();

        builder.Services.AddOptions<PasswordHashingOptions>()
            .BindConfiguration(PasswordHashingOptions.SectionName)
            .Validate(o => o.Parameters.MeetsOwaspFloor,
                "PasswordHashing: Iterations and MemoryKiB must reach one of OWASP's Argon2id configurations in both ("
                + string.Join("; ", Argon2Parameters.OwaspEqualStrength) + ").")
            .ValidateOnStart();
        builder.Services.Replace(ServiceDescriptor.Singleton<IPasswordHasher<User>, Argon2idPasswordHasher>());
        builder.Services.RemoveAll<IPasswordValidator<User>>();
        builder.Services.AddScoped<IPasswordValidator<User>, PolicyPasswordValidator>();
        builder.Services.AddSingleton(_ => new PasswordPolicy(CommonPasswords.Shipped));
        builder.Services.AddSingleton<DummyPasswordHash>();
        builder.Services.AddOptions<LoginOptions>().BindConfiguration(LoginOptions.SectionName).ValidateRulesOnStart(LoginOptions.Validate);
        builder.AddLoginThrottle();
        // Bootstrap and TokenService need no rules here: a missing administrator is a supported state (logged by
        // AdminBootstrapper), and TokenService:ClientSecret is a required secret (AddRequiredSecret).
        builder.Services.AddOptions<RegistrationOptions>().BindConfiguration(RegistrationOptions.SectionName);
        builder.Services.AddOptions<BootstrapOptions>().BindConfiguration(BootstrapOptions.SectionName);
        return builder;
    }

    /// <summary>
    /// Brute-force protection of the credential check: per-account failure tracking with a progressive delay and device
    /// cookies, in Redis. The device cookies' Data Protection ring is shared by the replicas through the same Redis; a
    /// certificate protects it at rest when configured but is not required: whoever can read that Redis can also reset
    /// the counters the cookie lets a device skip.
    /// </summary>
    public static IHostApplicationBuilder AddLoginThrottle(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<LoginThrottleOptions>().BindConfiguration(LoginThrottleOptions.SectionName).ValidateRulesOnStart(LoginThrottleOptions.Validate);
        builder.AddSharedDataProtection(AuthEvents.SourceService, requireCertificateInProduction: false);
        builder.Services.AddSingleton<LoginThrottle>();
        builder.Services.AddSingleton<DeviceCookies>();
        builder.Services.AddScoped<CredentialCheck>();
        builder.AddMfa();
        return builder;
    }

    /// <summary>TOTP with recovery codes: secrets encrypted with the same Data Protection ring, sign-in tickets in Redis, codes checked by the sign-in throttle.</summary>
    public static IHostApplicationBuilder AddMfa(this IHostApplicationBuilder builder)
    {
        builder.Services.TryAddKeyedSingleton(SecondFactorCheck.ClockKey, TimeProvider.System);
        builder.Services.AddSingleton<TotpSecretProtector>();
        builder.Services.AddSingleton<MfaTickets>();
        builder.Services.AddScoped<SecondFactorCheck>();
        return builder;
    }

    /// <summary>
    /// The typed client of the back channel to token-service. Its sign-in POST is not idempotent (each one
    /// opens a session), so the standard resilience handler here never retries unsafe methods; the revocation
    /// DELETEs may be retried.
    /// </summary>
    public static IHostApplicationBuilder AddTokenServiceClient(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TokenServiceOptions>().BindConfiguration(TokenServiceOptions.SectionName);
        builder.Services.AddRequiredSecret("TokenService:ClientSecret");
#pragma warning disable EXTEXP0001 // RemoveAllResilienceHandlers is experimental; it is the documented way to replace the handler ConfigureHttpClientDefaults added.
        builder.Services.AddHttpClient<TokenServiceClient>(http => http.BaseAddress = new Uri(TokenServiceOptions.BaseAddress))
            // Pooled handlers are shared by every request: a cookie container would keep one user's refresh
            // cookie and send it with the next user's call.
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { UseCookies = false })
            .RemoveAllResilienceHandlers()
            .AddStandardResilienceHandler(resilience => resilience.Retry.DisableForUnsafeHttpMethods());
#pragma warning restore EXTEXP0001
        return builder;
    }
}
