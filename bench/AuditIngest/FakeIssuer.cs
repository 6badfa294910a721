using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Bench.AuditIngest;

/// <summary>
/// Stands in for token-service on loopback: a discovery document and JWKS with the <see cref="TestTokens"/> key, so the
/// real audit-service (its real JwtBearer) accepts the bench's admin and user tokens.
/// </summary>
public sealed class FakeIssuer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeIssuer(WebApplication app) => _app = app;

    public string Authority => _app.Urls.First();

    public static async Task<FakeIssuer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        var rsa = TestTokens.Key.Rsa?.ExportParameters(false) ?? TestTokens.Key.Parameters;
        var jwks = new
        {
            keys = new[]
            {
                new { kty = "RSA", use = "sig", alg = "RS256", kid = TestTokens.Key.KeyId, n = Base64UrlEncoder.Encode(rsa.Modulus), e = Base64UrlEncoder.Encode(rsa.Exponent) },
            },
        };
        app.MapGet("/.well-known/openid-configuration", (HttpContext http) => Results.Json(new
        {
            issuer = TestTokens.Issuer,
            jwks_uri = $"{http.Request.Scheme}://{http.Request.Host}/jwks",
            id_token_signing_alg_values_supported = new[] { "RS256" },
        }));
        app.MapGet("/jwks", () => Results.Json(jwks));
        await app.StartAsync();
        return new FakeIssuer(app);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
