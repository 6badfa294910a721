using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace SecurePlatform.TestSupport;

/// <summary>
/// Access tokens for tests of one service in isolation: signed by a test key that a WebApplicationFactory's
/// JwtBearer is pointed at (instead of token-service's discovery). The rest of validation is the real one.
/// </summary>
public static class TestTokens
{
    public const string Issuer = "https://token-service.test/";
    public const string Audience = "secureplatform-api";

    public static RsaSecurityKey Key { get; } = new(RSA.Create(2048)) { KeyId = "test-signing-key" };

    /// <summary>
    /// A valid platform access token; every claim can be overridden for attack tests. <paramref name="amr"/> defaults to
    /// <c>["pwd"]</c>: an admin token needs <c>mfa</c> in it to pass the admin policy. <paramref name="claims"/> adds or
    /// replaces claims; a null value removes one.
    /// </summary>
    public static string Issue(
        string sub,
        string? sid = null,
        IEnumerable<string>? roles = null,
        TimeSpan? lifetime = null,
        DateTime? notBefore = null,
        string issuer = Issuer,
        string audience = Audience,
        SigningCredentials? credentials = null,
        string tokenType = "at+jwt",
        IEnumerable<string>? amr = null,
        IReadOnlyDictionary<string, object?>? claims = null)
    {
        var now = DateTime.UtcNow;
        var payload = new Dictionary<string, object>
        {
            ["sub"] = sub,
            ["sid"] = sid ?? Guid.CreateVersion7().ToString(),
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["amr"] = (amr ?? ["pwd"]).ToArray(),
        };
        if (roles is not null)
        {
            payload["roles"] = roles.ToArray();
        }
        foreach (var (name, value) in claims ?? new Dictionary<string, object?>())
        {
            if (value is null)
            {
                payload.Remove(name);
            }
            else
            {
                payload[name] = value;
            }
        }
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = now,
            NotBefore = notBefore ?? now,
            Expires = (notBefore ?? now) + (lifetime ?? TimeSpan.FromMinutes(15)),
            Claims = payload,
            TokenType = tokenType,
            SigningCredentials = credentials ?? new SigningCredentials(Key, SecurityAlgorithms.RsaSha256),
        };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }

    /// <summary>Points JwtBearer at the test key and issuer instead of fetching token-service's discovery.</summary>
    public static IServiceCollection UseTestTokens(this IServiceCollection services)
    {
        services.PostConfigure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, jwt =>
        {
            var configuration = new OpenIdConnectConfiguration { Issuer = Issuer };
            configuration.SigningKeys.Add(Key);
            jwt.ConfigurationManager = new StaticConfigurationManager<OpenIdConnectConfiguration>(configuration);
            jwt.TokenValidationParameters.ValidIssuer = Issuer;
        });
        return services;
    }
}
