using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using SecurePlatform.Contracts;

namespace SecurePlatform.Auth.Infrastructure;

/// <summary>Section <c>TokenService</c>: auth-service's own client credentials at token-service.</summary>
public sealed class TokenServiceOptions
{
    public const string SectionName = "TokenService";

    /// <summary>Service discovery name; resolved from <c>services:token-service:https:0</c> / <c>http:0</c>.</summary>
    public const string BaseAddress = "https+http://token-service";

    public const string ClientId = Protocol.Clients.AuthService;

    public string ClientSecret { get; set; } = "";
}

/// <summary>What auth-service asks token-service to open a session for (the platform sign-in grant).</summary>
public sealed record SignInGrant(
    string Subject,
    IReadOnlyList<string> Amr,
    IReadOnlyList<string> Roles,
    string TargetClientId,
    string? ClientIp,
    string? UserAgent,
    bool RefreshTokenInCookie = false);

public abstract record TokenServiceResult
{
    /// <summary>
    /// 200: the RFC 6749 token response as token-service sent it, and what auth-service needs of it. In cookie
    /// delivery the body has no refresh token and <paramref name="RefreshCookie"/> is token-service's
    /// <c>Set-Cookie</c> for it, which auth-service relays unchanged.
    /// </summary>
    public sealed record Issued(string ResponseJson, string SessionId, string? RefreshToken, string? RefreshCookie = null) : TokenServiceResult;

    /// <summary>400: token-service refused the grant (an unknown or not first-party target client, say).</summary>
    public sealed record Rejected(string? Error) : TokenServiceResult;

    /// <summary>Anything else: unreachable, timed out, 5xx, our own credentials refused, or a malformed answer.</summary>
    public sealed record Unavailable(string Reason) : TokenServiceResult;
}

/// <summary>
/// The back channel to token-service: the sign-in grant (client_secret_post with auth-service's own
/// credentials) and session revocation on behalf of the caller (their own bearer token is forwarded).
/// </summary>
public sealed partial class TokenServiceClient(HttpClient http, IOptions<TokenServiceOptions> options, ILogger<TokenServiceClient> logger)
{
    public const string SignInScope = "openid offline_access";

    private static readonly HashSet<string> OAuthErrors = new(StringComparer.Ordinal)
    {
        "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_scope",
    };

    public async Task<TokenServiceResult> SignInAsync(SignInGrant grant, CancellationToken cancellationToken)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = Protocol.SignInGrant.GrantType,
            ["client_id"] = TokenServiceOptions.ClientId,
            ["client_secret"] = options.Value.ClientSecret,
            [Protocol.SignInGrant.Subject] = grant.Subject,
            [Protocol.SignInGrant.Amr] = string.Join(' ', grant.Amr),
            [Protocol.SignInGrant.Roles] = string.Join(' ', grant.Roles),
            [Protocol.SignInGrant.TargetClient] = grant.TargetClientId,
            [Protocol.SignInGrant.ClientIp] = grant.ClientIp ?? "",
            [Protocol.SignInGrant.UserAgent] = grant.UserAgent ?? "",
            ["scope"] = SignInScope,
        };
        if (grant.RefreshTokenInCookie)
        {
            form[Protocol.SignInGrant.RefreshTokenDelivery] = Protocol.SignInGrant.CookieDelivery;
        }
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token") { Content = new FormUrlEncodedContent(form) };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var response = await http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.StatusCode == HttpStatusCode.BadRequest)
            {
                var error = ReadString(body, "error");
                LogGrantRejected(error ?? "(none)");
                return new TokenServiceResult.Rejected(error is not null && OAuthErrors.Contains(error) ? error : null);
            }
            if (response.StatusCode != HttpStatusCode.OK)
            {
                LogUnexpectedStatus("token", (int)response.StatusCode);
                return new TokenServiceResult.Unavailable($"status {(int)response.StatusCode}");
            }
            var issued = ParseIssued(body);
            if (issued is not null && grant.RefreshTokenInCookie)
            {
                var cookie = response.Headers.TryGetValues("Set-Cookie", out var cookies)
                    ? cookies.FirstOrDefault(c => c.StartsWith(Protocol.RefreshCookie.Name + "=", StringComparison.Ordinal))
                    : null;
                issued = cookie is null ? null : issued with { RefreshCookie = cookie };
            }
            return (TokenServiceResult?)issued ?? new TokenServiceResult.Unavailable("malformed token response");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogUnreachable("token", ex.GetType().Name);
            return new TokenServiceResult.Unavailable(ex.GetType().Name);
        }
    }

    /// <summary><c>DELETE /sessions/{sid}</c> with the caller's own bearer token. An already-ended session counts as ended.</summary>
    public Task<bool> RevokeSessionAsync(string sid, string authorization, CancellationToken cancellationToken)
        => DeleteAsync("/sessions/" + Uri.EscapeDataString(sid), authorization, cancellationToken);

    /// <summary><c>DELETE /sessions</c> with the caller's own bearer token: every session of the user but the caller's.</summary>
    public Task<bool> RevokeOtherSessionsAsync(string authorization, CancellationToken cancellationToken)
        => DeleteAsync("/sessions", authorization, cancellationToken);

    /// <summary>
    /// <c>DELETE /admin/users/{sub}/sessions</c> with the administrator's own bearer token (token-service's admin policy
    /// checks it again): every session of the user, at once, on every service (the subject's revocation key).
    /// </summary>
    public Task<bool> RevokeUserSessionsAsync(string sub, string authorization, CancellationToken cancellationToken)
        => DeleteAsync("/admin/users/" + Uri.EscapeDataString(sub) + "/sessions", authorization, cancellationToken);

    private async Task<bool> DeleteAsync(string path, string authorization, CancellationToken cancellationToken)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, path);
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
            using var response = await http.SendAsync(request, cancellationToken);
            if (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.NotFound)
            {
                return true;
            }
            LogUnexpectedStatus(path switch
            {
                "/sessions" => "revocation of other sessions",
                _ when path.StartsWith("/admin/", StringComparison.Ordinal) => "revocation of a user's sessions",
                _ => "session revocation",
            }, (int)response.StatusCode);
            return false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogUnreachable("sessions", ex.GetType().Name);
            return false;
        }
    }

    /// <summary>The token response if it is one (an access token that is a JWT carrying <c>sid</c>); null otherwise.</summary>
    internal static TokenServiceResult.Issued? ParseIssued(string body)
    {
        var accessToken = ReadString(body, "access_token");
        if (accessToken is null || ReadString(body, "token_type") is null)
        {
            return null;
        }
        var sid = SessionIdOf(accessToken);
        return sid is null ? null : new TokenServiceResult.Issued(body, sid, ReadString(body, "refresh_token"));
    }

    /// <summary>
    /// The <c>sid</c> claim of an access token, read without validating it: it came straight from token-service
    /// over the authenticated back channel, and auth-service only records it in an event.
    /// </summary>
    internal static string? SessionIdOf(string accessToken)
    {
        try
        {
            return new JsonWebToken(accessToken).TryGetPayloadValue<string>("sid", out var sid) && !string.IsNullOrEmpty(sid) ? sid : null;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static string? ReadString(string json, string property)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.ValueKind == JsonValueKind.Object
                   && document.RootElement.TryGetProperty(property, out var value)
                   && value.ValueKind == JsonValueKind.String
                ? value.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "token-service refused the sign-in grant: {Error}")]
    private partial void LogGrantRejected(string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "token-service answered the {Call} call with status {Status}")]
    private partial void LogUnexpectedStatus(string call, int status);

    [LoggerMessage(Level = LogLevel.Error, Message = "token-service unreachable for the {Call} call ({ErrorType})")]
    private partial void LogUnreachable(string call, string errorType);
}
