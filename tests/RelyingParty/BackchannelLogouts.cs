using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace SecurePlatform.RelyingParty;

/// <summary>
/// The relying party's side of OpenID Connect Back-Channel Logout 1.0: validates a logout token (signature by the
/// provider's published keys, issuer, audience = this client, <c>typ</c> logout+jwt, the logout event, no nonce, a
/// sid) and remembers the session as ended, so the cookie of that session is refused on its next request.
/// </summary>
public sealed class BackchannelLogouts
{
    private const string LogoutEvent = "http://schemas.openid.net/event/backchannel-logout";

    private readonly ConcurrentDictionary<string, DateTimeOffset> _endedSessions = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<ReceivedLogout> _received = new();
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);

    public sealed record ReceivedLogout(string Sid, string Sub, string Jti, string Type, string Token);

    public bool HasEnded(string? sid) => sid is not null && _endedSessions.ContainsKey(sid);

    public IReadOnlyCollection<ReceivedLogout> Received => _received.ToArray();

    /// <summary>For the tests: answer the next <paramref name="count"/> logout tokens for session <paramref name="sid"/> 503, as a relying party that is down would.</summary>
    public void FailNext(string sid, int count) => _failures[sid] = count;

    public async Task<IResult> ReceiveAsync(HttpContext http, IOptionsMonitor<OpenIdConnectOptions> oidc)
    {
        http.Response.Headers.CacheControl = "no-store";
        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var token = form["logout_token"].ToString();
        var options = oidc.Get(OpenIdConnectDefaults.AuthenticationScheme);
        var configuration = await options.ConfigurationManager!.GetConfigurationAsync(http.RequestAborted);
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = configuration.Issuer,
            ValidAudience = options.ClientId,
            IssuerSigningKeys = configuration.SigningKeys,
            ValidTypes = ["logout+jwt"],
            ClockSkew = TimeSpan.FromSeconds(30),
        });
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt
            || jwt.TryGetPayloadValue<string>("nonce", out _)
            || !jwt.TryGetPayloadValue<JsonElement>("events", out var events) || events.ValueKind != JsonValueKind.Object || !events.TryGetProperty(LogoutEvent, out _)
            || !jwt.TryGetPayloadValue<string>("sid", out var sid) || !jwt.TryGetPayloadValue<string>("sub", out var sub))
        {
            return Results.BadRequest();
        }
        if (_failures.TryGetValue(sid, out var failures) && failures > 0 && _failures.TryUpdate(sid, failures - 1, failures))
        {
            return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
        }
        _endedSessions[sid] = DateTimeOffset.UtcNow;
        _received.Enqueue(new ReceivedLogout(sid, sub, jwt.Id, jwt.Typ, token));
        return Results.Ok();
    }
}
