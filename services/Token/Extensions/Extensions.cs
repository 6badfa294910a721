using SecurePlatform.ServiceDefaults.Validation;
using SecurePlatform.ServiceDefaults.RateLimiting;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Http;
using SecurePlatform.ServiceDefaults.Health;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;
using SecurePlatform.Contracts;
using OpenTelemetry.Metrics;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.Security;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.IntegrationEvents;
using SecurePlatform.Token.Model;
using SecurePlatform.Token.Services;
using StackExchange.Redis;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace SecurePlatform.Token.Extensions;

public static class Extensions
{
    /// <summary>
    /// The hosted sign-in: login, consent and logout pages (Razor Pages, server-rendered, antiforgery), the browser's
    /// sign-in cookie, and the back channel to auth-service that checks credentials.
    /// </summary>
    public static IHostApplicationBuilder AddHostedSignIn(this IHostApplicationBuilder builder)
    {
        // Outside Development every request is HTTPS (ServiceDefaults refuses plain HTTP), so the cookies are
        // __Host- and Secure; Development on plain loopback HTTP gets the same cookies without the prefix.
        var development = builder.Environment.IsDevelopment();
        var prefix = development ? "" : "__Host-";
        var secure = development ? CookieSecurePolicy.SameAsRequest : CookieSecurePolicy.Always;
        builder.Services.AddRazorPages(pages => pages.Conventions.ConfigureFilter(new PageSecurityPolicy()));
        builder.Services.AddAntiforgery(antiforgery =>
        {
            antiforgery.Cookie.Name = prefix + "sp_af";
            antiforgery.Cookie.SecurePolicy = secure;
            antiforgery.Cookie.SameSite = SameSiteMode.Strict;
        });
        builder.Services.AddAuthentication().AddCookie(HostedSignIn.Scheme, cookie =>
        {
            cookie.Cookie.Name = prefix + HostedSignIn.CookieName;
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SecurePolicy = secure;
            // Lax: the cookie must come along when a client's top-level redirect brings the user to /connect/authorize.
            cookie.Cookie.SameSite = SameSiteMode.Lax;
            cookie.Cookie.Path = "/";
            cookie.LoginPath = HostedSignIn.LoginPath;
            cookie.ExpireTimeSpan = TimeSpan.FromHours(8);
            cookie.SlidingExpiration = false;
        });
        builder.AddExternalProviders();
        // No retries: a credential check is not idempotent (each counts against the account's budget and is an event), and
        // the defaults' retry would hold a throttled sign-in (429) for its Retry-After instead of telling the user at once.
#pragma warning disable EXTEXP0001 // evaluation API; the documented way to override ConfigureHttpClientDefaults' handler
        builder.Services.AddHttpClient<AuthServiceClient>(http =>
            {
                http.BaseAddress = new Uri(AuthServiceClient.BaseAddress);
                http.Timeout = AuthServiceClient.Timeout;
            })
            .RemoveAllResilienceHandlers()
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { UseCookies = false });
#pragma warning restore EXTEXP0001
        builder.Services.AddHttpClient<ProfileServiceClient>(http => http.BaseAddress = new Uri(ProfileServiceClient.BaseAddress))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { UseCookies = false });
        return builder;
    }

    /// <summary>
    /// External OpenID Connect / OAuth 2.0 providers through OpenIddict's client (code flow with PKCE, state and nonce
    /// checked by OpenIddict, one callback path per provider against mix-up). Its state tokens are Data Protection
    /// payloads of the ring the replicas share, so a sign-in started on one replica finishes on any other.
    /// </summary>
    public static IHostApplicationBuilder AddExternalProviders(this IHostApplicationBuilder builder)
    {
        var providers = builder.Configuration.GetSection(ExternalProviders.SectionName).GetChildren()
            .ToDictionary(c => c.Key, c => c.Get<ExternalProviderSettings>() ?? new ExternalProviderSettings(), StringComparer.OrdinalIgnoreCase);
        if (ExternalProviders.Problems(providers, builder.Environment.IsDevelopment()).ToList() is { Count: > 0 } problems)
        {
            throw new InvalidOperationException("External providers are misconfigured: " + string.Join(" ", problems));
        }
        builder.Services.AddSingleton<IReadOnlyDictionary<string, ExternalProviderSettings>>(providers);
        builder.Services.AddSingleton<HostedDeviceCookie>();
        builder.Services.AddSingleton<ExternalSignInState>(); // the login page reads it either way (nothing pending without providers)
        if (providers.Count == 0)
        {
            return builder;
        }
        builder.Services.AddOpenIddict().AddClient(client =>
        {
            client.AllowAuthorizationCodeFlow();
            // Required by OpenIddict's option checks; the state tokens themselves use Data Protection (below).
            client.AddEphemeralEncryptionKey().AddEphemeralSigningKey();
            client.UseDataProtection();
            client.UseSystemNetHttp();
            client.UseAspNetCore()
                .EnableRedirectionEndpointPassthrough()
                // Plain HTTP is already refused outside Development by ServiceDefaults.
                .DisableTransportSecurityRequirement();
            client.SetRedirectionEndpointUris([.. providers.Keys.Select(n => ExternalProviders.CallbackPath(n)[1..])]);
            var web = client.UseWebProviders();
            foreach (var (name, settings) in providers)
            {
                var redirect = ExternalProviders.CallbackPath(name)[1..];
                switch (name.ToLowerInvariant())
                {
                    case "google":
                        web.AddGoogle(o => o.SetClientId(settings.ClientId!).SetClientSecret(settings.ClientSecret!).SetRedirectUri(redirect).AddScopes(Scopes.Email));
                        break;
                    case "github":
                        web.AddGitHub(o => o.SetClientId(settings.ClientId!).SetClientSecret(settings.ClientSecret!).SetRedirectUri(redirect).AddScopes("user:email"));
                        break;
                    case "microsoft":
                        web.AddMicrosoft(o => o.SetClientId(settings.ClientId!).SetClientSecret(settings.ClientSecret!).SetRedirectUri(redirect).AddScopes(Scopes.Email));
                        break;
                    case "facebook":
                        web.AddFacebook(o => o.SetClientId(settings.ClientId!).SetClientSecret(settings.ClientSecret!).SetRedirectUri(redirect).AddScopes(Scopes.Email));
                        break;
                    default:
                        var registration = new OpenIddict.Client.OpenIddictClientRegistration
                        {
                            Issuer = settings.Issuer,
                            ProviderName = name,
                            ProviderDisplayName = settings.DisplayName ?? name,
                            ClientId = settings.ClientId,
                            ClientSecret = settings.ClientSecret,
                            RedirectUri = new Uri(redirect, UriKind.Relative),
                        };
                        registration.Scopes.UnionWith([Scopes.OpenId, Scopes.Email, Scopes.Profile]);
                        client.AddRegistration(registration);
                        break;
                }
            }
        });
        return builder;
    }

    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(TokenOptions.SectionName);
        var options = section.Get<TokenOptions>() ?? new TokenOptions();
        builder.Services.AddOptions<TokenOptions>().Bind(section).ValidateRulesOnStart(TokenOptions.Validate);
        // Outside Development what token-service calls itself is configuration, never the request's Host header.
        var development = builder.Environment.IsDevelopment();
        builder.Services.AddOptions<TokenOptions>()
            .Validate(o => development || o.Issuer is { IsAbsoluteUri: true }, "Token:Issuer (the public base URL) is required outside Development.");
        builder.Services.AddSingleton(TimeProvider.System);

        builder.AddPlatformDbContext<TokenDbContext>("tokendb");
        builder.AddPlatformRedis();
        builder.AddMessaging(bus =>
        {
            bus.AddIntegrationEventConsumer<PasswordChangedConsumer>();
            bus.AddIntegrationEventConsumer<UserDisabledConsumer>();
            bus.AddIntegrationEventConsumer<UserDeletedConsumer>();
            bus.AddIntegrationEventConsumer<RoleGrantedConsumer>();
            bus.AddIntegrationEventConsumer<RoleRevokedConsumer>();
            bus.AddIntegrationEventConsumer<PasswordChangeRequiredConsumer>();
        });
        builder.AddOutboxDispatcher<TokenDbContext>();
        builder.AddPlatformRateLimiting();
        builder.AddThrottleEvents<TokenDbContext>(Protocol.Services.Token);
        builder.Services.AddRateLimitBudgets(RateLimitPolicies.Token, TokenEndpointBudgets.ResolveAsync);

        // token-service validates its own access tokens (sessions API) like every other service does.
        if (builder.Configuration["Auth:Authority"] is null && options.Issuer is not null)
        {
            builder.Configuration["Auth:Authority"] = options.Issuer.ToString();
        }
        if (builder.Configuration["Security:PublicBaseUrl"] is null && options.Issuer is not null)
        {
            builder.Configuration["Security:PublicBaseUrl"] = options.Issuer.ToString();
        }
        builder.AddDefaultAuthentication();
        builder.AddPlatformValidation(typeof(Extensions).Assembly);
        builder.Services.AddSingleton<SessionRevocationWriter>();
        builder.Services.AddSingleton<RevocationDelivery>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RevocationDelivery>());
        // Degraded (200) while a revocation is committed but not yet in Redis: token-service still serves.
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            "revocations", sp => sp.GetRequiredService<RevocationDelivery>(), HealthStatus.Degraded, [HealthTags.Ready]));
        builder.Services.AddSingleton(sp => SessionPolicy.From(sp.GetRequiredService<IOptions<TokenOptions>>().Value));
        builder.Services.AddScoped<SessionService>();
        builder.Services.AddSingleton<BackchannelLogoutDelivery>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BackchannelLogoutDelivery>());
        builder.Services.AddScoped<SecurePlatform.Token.Apis.ClientAdministration>();

        // Key material in tokendb is encrypted with Data Protection; its key ring is shared through Redis so
        // every replica can read every key.
        builder.AddSharedDataProtection("token-service");

        builder.Services.AddRequiredSecret("Token:ClientSecretHashKey");
        builder.Services.AddSingleton(sp =>
        {
            var token = sp.GetRequiredService<IOptions<TokenOptions>>().Value;
            var key = token.ClientSecretHashKey ?? (builder.Environment.IsProduction()
                ? throw new InvalidOperationException("Token:ClientSecretHashKey is required.")
                : "development-only-client-secret-hash-key");
            var retired = token.PreviousClientSecretHashKeysUntil is { } until && sp.GetRequiredService<TimeProvider>().GetUtcNow() >= until;
            return ClientSecretHasher.FromConfiguredKey(key, retired ? [] : token.PreviousClientSecretHashKeys);
        });

        builder.Services.AddSingleton<KeyRing>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<KeyRing>());
        builder.Services.AddHealthChecks().AddCheck<KeyRingHealthCheck>("signing-keys", tags: [HealthTags.Ready]);
        builder.Services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddMeter(KeyRing.MeterName));
        builder.Services.AddSingleton<IConfigureOptions<OpenIddictServerOptions>>(sp => sp.GetRequiredService<KeyRing>());
        builder.Services.AddSingleton<IOptionsChangeTokenSource<OpenIddictServerOptions>>(sp => sp.GetRequiredService<KeyRing>());
        builder.Services.AddHostedService<ClientRegistrations>();
        builder.AddHostedSignIn();

        builder.Services.AddOpenIddict()
            .AddCore(core =>
            {
                core.UseEntityFrameworkCore().UseDbContext<TokenDbContext>();
                core.ReplaceApplicationManager(typeof(KeyedHashApplicationManager<>));
                core.Services.Replace(ServiceDescriptor.Singleton(typeof(IOpenIddictApplicationCache<>), typeof(SharedApplicationCache<>)));
            })
            .AddServer(server =>
            {
                server.SetAuthorizationEndpointUris(HostedSignIn.AuthorizePath[1..])
                    .SetPushedAuthorizationEndpointUris("connect/par")
                    .SetEndSessionEndpointUris(HostedSignIn.EndSessionPath[1..])
                    .SetTokenEndpointUris(Protocol.TokenPath[1..])
                    .SetRevocationEndpointUris("connect/revoke")
                    .SetIntrospectionEndpointUris("connect/introspect")
                    .SetUserInfoEndpointUris("connect/userinfo")
                    .SetJsonWebKeySetEndpointUris(".well-known/jwks")
                    .SetConfigurationEndpointUris(".well-known/openid-configuration");
                server.AllowClientCredentialsFlow().AllowRefreshTokenFlow().AllowCustomFlow(Protocol.SignInGrant.GrantType);
                // The code flow for every client, PKCE required and S256 only (security-reference D3): no implicit,
                // no hybrid, no password grant.
                server.AllowAuthorizationCodeFlow().RequireProofKeyForCodeExchange();
                server.Configure(o => o.CodeChallengeMethods.Remove(CodeChallengeMethods.Plain));
                server.RegisterScopes(Scopes.OpenId, Scopes.OfflineAccess, Scopes.Profile, Scopes.Email, ClientRegistrations.ApiScope);
                server.RegisterClaims(
                    Claims.Subject, PlatformClaims.SessionId, PlatformClaims.Roles, PlatformClaims.Amr, Claims.AuthenticationContextReference, Claims.AuthenticationTime,
                    Claims.Email, Claims.EmailVerified, Claims.Nonce, Claims.AccessTokenHash);
                server.SetAccessTokenLifetime(options.AccessTokenLifetime);
                // Refresh tokens are opaque and live as long as their session row says (SessionPolicy); OpenIddict's
                // lifetime is only its upper bound. Its reuse leeway is not set (sessions decide reuse, with none).
                server.SetRefreshTokenLifetime(options.SessionIdleTimeout);
                // Self-contained JWT access tokens need no row per issue; sessions (our table) carry rotation and revocation.
                server.DisableAccessTokenEncryption();
                server.DisableTokenStorage();
                server.DisableAuthorizationStorage();
                server.DisableSlidingRefreshTokenExpiration();
                if (options.Issuer is not null)
                {
                    server.SetIssuer(options.Issuer);
                }
                server.AddProtocolSurfaceHandlers();
                server.AddEventHandler(ProtocolSurface.ErrorPageWhenTheClientCannotBeTold<ApplyAuthorizationResponseContext>.Descriptor);
                server.AddEventHandler(ProtocolSurface.ErrorPageWhenTheClientCannotBeTold<ApplyEndSessionResponseContext>.Descriptor);
                server.AddEventHandler(OpenIddictHandlers.RefreshTokenFromCookie.Descriptor);
                server.AddEventHandler(OpenIddictHandlers.RefreshTokenToCookie.Descriptor);
                server.AddEventHandler(OpenIddictHandlers.AccessTokensBelongToTheirApp.Descriptor);
                server.AddEventHandler(OpenIddictHandlers.SignTokensByAudience.Descriptor);
                server.AddEventHandler(OpenIddictHandlers.ReadOpaqueRefreshTokens.Descriptor);
                server.AddEventHandler(OpenIddictHandlers.IssueOpaqueRefreshTokens.Descriptor);
                // An opaque refresh token carries no scopes: SessionPolicy.Decide checks a narrowing request against the session's.
                server.RemoveEventHandler(OpenIddictServerHandlers.Exchange.ValidateGrantedScopes.Descriptor);
                server.RemoveEventHandler(OpenIddictServerHandlers.Revocation.RevokeToken.Descriptor);
                server.AddEventHandler(OpenIddictHandlers.RevokeSession.Descriptor);
                server.AddEventHandler(OpenIddictHandlers.RejectRevokedSessions.Descriptor);
                // Every platform token has the one audience secureplatform-api; the clients allowed to introspect
                // are the registered resource servers (endpoint permission), not the token's audience by name.
                server.RemoveEventHandler(OpenIddictServerHandlers.Introspection.ValidateAuthorizedParty.Descriptor);
                server.UseAspNetCore()
                    .EnableAuthorizationEndpointPassthrough()
                    .EnableEndSessionEndpointPassthrough()
                    .EnableTokenEndpointPassthrough()
                    .EnableUserInfoEndpointPassthrough()
                    // Plain HTTP is already refused outside Development by ServiceDefaults (400, no redirect).
                    .DisableTransportSecurityRequirement();
            });
    }
}
