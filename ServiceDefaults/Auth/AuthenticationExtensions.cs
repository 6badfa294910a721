using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace SecurePlatform.ServiceDefaults.Auth;

/// <summary>Section <c>Auth</c>: how every service validates access tokens.</summary>
public sealed class PlatformAuthOptions
{
    public const string SectionName = "Auth";

    /// <summary>token-service's base URL. Default: what service discovery injects for token-service.</summary>
    public string? Authority { get; set; }

    public string Audience { get; set; } = PlatformClaims.Audience;

    /// <summary>Clock skew tolerated on exp/nbf; at most 30 s.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Default: required outside Development.</summary>
    public bool? RequireHttpsMetadata { get; set; }

    public RevocationOptions Revocation { get; set; } = new();
}

public static class PlatformClaims
{
    public const string Audience = "secureplatform-api";
    public const string Subject = "sub";
    public const string SessionId = "sid";
    public const string Roles = "roles";
    public const string Amr = "amr";
    public const string AdminPolicy = "admin";
    public const string AdminRole = "admin";

    /// <summary>RFC 8176's "multiple factors": the session's sign-in used a second factor.</summary>
    public const string MultiFactor = "mfa";

    /// <summary>Whether the token's <c>amr</c> says the sign-in used more than one factor.</summary>
    public static bool UsedMultipleFactors(ClaimsPrincipal user) => user.HasClaim(Amr, MultiFactor);
    public static readonly string[] AllowedAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.EcdsaSha256];

    public static string? SubjectOf(ClaimsPrincipal user) => user.FindFirst(Subject)?.Value;

    public static string? SessionOf(ClaimsPrincipal user) => user.FindFirst(SessionId)?.Value;
}

public static class AuthenticationExtensions
{
    /// <summary>
    /// JwtBearer against token-service's discovery document (issuer, audience, algorithm allow-list,
    /// lifetime, ≤ 30 s skew, <c>at+jwt</c> only, no error details in <c>WWW-Authenticate</c>) plus the
    /// revocation check on every authenticated request. The <c>admin</c> policy requires the admin role and <c>mfa</c> in
    /// <c>amr</c>: administrators MUST use MFA, so a stolen admin password alone opens no admin endpoint.
    /// </summary>
    public static IHostApplicationBuilder AddDefaultAuthentication(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(PlatformAuthOptions.SectionName);
        var options = section.Get<PlatformAuthOptions>() ?? new PlatformAuthOptions();
        var authority = options.Authority
            ?? builder.Configuration["services:token-service:https:0"]
            ?? builder.Configuration["services:token-service:http:0"]
            ?? throw new InvalidOperationException("Auth:Authority is not set and service discovery names no token-service.");
        if (options.ClockSkew > TimeSpan.FromSeconds(30))
        {
            throw new InvalidOperationException("Auth:ClockSkew may be at most 30 seconds.");
        }

        builder.Services.AddOptions<RevocationOptions>().Bind(section.GetSection("Revocation")).ValidateRulesOnStart(RevocationOptions.Validate);
        builder.Services.AddSingleton(sp =>
        {
            var cache = ActivatorUtilities.CreateInstance<RevocationCache>(sp);
            // A revoked key's replacement signs at once, unannounced: fetch JWKS now rather than failing the
            // first request that carries the new kid (RefreshOnIssuerKeyNotFound only helps the one after it).
            cache.SigningKeyRevoked += () =>
            {
                var manager = sp.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>().Get(JwtBearerDefaults.AuthenticationScheme).ConfigurationManager;
                manager?.RequestRefresh();
                _ = manager?.GetConfigurationAsync(CancellationToken.None);
            };
            return cache;
        });
        builder.Services.AddSingleton<ISessionRevocationCheck>(sp => sp.GetRequiredService<RevocationCache>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RevocationCache>());
        if (options.Revocation.FailOpen)
        {
            // Requests do not fail without Redis then: its outage is absorbed, readiness says Degraded (200).
            builder.Services.PostConfigure<HealthCheckServiceOptions>(health =>
            {
                foreach (var registration in health.Registrations.Where(r => r.Name == "redis"))
                {
                    registration.FailureStatus = HealthStatus.Degraded;
                }
            });
        }

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(jwt =>
        {
            jwt.Authority = authority;
            jwt.Audience = options.Audience;
            jwt.RequireHttpsMetadata = options.RequireHttpsMetadata ?? !builder.Environment.IsDevelopment();
            jwt.MapInboundClaims = false;
            jwt.IncludeErrorDetails = false; // never tell a caller which check failed
            jwt.RefreshOnIssuerKeyNotFound = true; // a new signing key appears in JWKS before it signs
            // How often an unknown kid (or a key revocation) may make JWKS be fetched again; the default 5 minutes
            // would leave a second emergency replacement unknown here for that long.
            jwt.RefreshInterval = TimeSpan.FromSeconds(5);
            jwt.TokenValidationParameters = new TokenValidationParameters
            {
                ValidateIssuer = true,
                ValidateAudience = true,
                ValidAudience = options.Audience,
                ValidateLifetime = true,
                RequireExpirationTime = true,
                RequireSignedTokens = true,
                ValidateIssuerSigningKey = true,
                ValidAlgorithms = PlatformClaims.AllowedAlgorithms,
                ValidTypes = ["at+jwt"],
                ClockSkew = options.ClockSkew,
                NameClaimType = PlatformClaims.Subject,
                RoleClaimType = PlatformClaims.Roles,
            };
            jwt.Events = new JwtBearerEvents { OnTokenValidated = RejectRevokedSessionsAsync, OnChallenge = RevocationUnavailable.ChallengeAsync };
        });
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(PlatformClaims.AdminPolicy, policy => policy.RequireAuthenticatedUser()
                .RequireRole(PlatformClaims.AdminRole)
                .RequireClaim(PlatformClaims.Amr, PlatformClaims.MultiFactor));
        builder.Services.AddSingleton<IAuthorizationHandler, RecentAuthenticationHandler>();
        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, StepUpAuthorizationResultHandler>();
        return builder;
    }

    private static async Task RejectRevokedSessionsAsync(TokenValidatedContext context)
    {
        var services = context.HttpContext.RequestServices;
        var revocation = services.GetRequiredService<IOptions<RevocationOptions>>().Value;
        if (!revocation.Enabled)
        {
            return;
        }
        var principal = context.Principal!;
        var sub = PlatformClaims.SubjectOf(principal);
        var sid = PlatformClaims.SessionOf(principal);
        if (sub is null)
        {
            context.Fail("no subject");
            return;
        }
        var check = services.GetRequiredService<ISessionRevocationCheck>();
        // A revoked (compromised) signing key: its tokens are refused whoever they name. JWKS is cached for hours,
        // so the key leaving JWKS is not enough; the revoked-key list is read like session revocations.
        var kid = (context.SecurityToken as JsonWebToken)?.Kid;
        var keyState = kid is null ? RevocationState.Active : await check.CheckSigningKeyAsync(kid, context.HttpContext.RequestAborted);
        if (keyState == RevocationState.Revoked)
        {
            context.Fail("signing key revoked");
            return;
        }
        // Tokens without a session are client-credentials tokens (short-lived, no sign-in to revoke). While Redis
        // cannot be asked they are checked against the revoked keys this service already knows.
        if (sid is null)
        {
            return;
        }
        var state = await check.CheckAsync(sid, sub, context.HttpContext.RequestAborted);
        if (state == RevocationState.Active && keyState == RevocationState.Unknown)
        {
            state = RevocationState.Unknown;
        }
        switch (state)
        {
            case RevocationState.Revoked:
                context.Fail("session revoked");
                break;
            case RevocationState.Unknown when revocation.FailOpen:
                break;
            case RevocationState.Unknown when context.HttpContext.GetEndpoint()?.Metadata.GetMetadata<AllowUncheckedRevocationAttribute>() is not null:
                // Ending a session is safe whatever its state: the handler may act on the signature and sid alone.
                RevocationUnavailable.MarkUnchecked(context.HttpContext);
                break;
            case RevocationState.Unknown:
                // "Could not check" is not "revoked": the challenge answers 503 with Retry-After, not 401.
                RevocationUnavailable.MarkUnavailable(context.HttpContext);
                context.Fail("revocation store unavailable");
                break;
        }
    }
}
