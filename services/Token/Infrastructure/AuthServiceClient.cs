using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.Token.Model;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace SecurePlatform.Token.Infrastructure;

/// <summary>auth-service's answer to the password step of a user with MFA.</summary>
public sealed record MfaChallenge(bool MfaRequired, string? MfaTicket, int ExpiresIn);

/// <summary>
/// Who auth-service says signed in: what the hosted sign-in puts in its cookie and its tokens; after a password
/// sign-in also the device cookie's value to keep for the browser (<see cref="HostedDeviceCookie"/>).
/// </summary>
public sealed record VerifiedUser(string Subject, string[] Amr, string[] Roles, string? Email, bool EmailVerified, string? DeviceCookie = null, int? DeviceCookieMaxAge = null);

public abstract record CredentialCheckResult
{
    public sealed record Verified(VerifiedUser User) : CredentialCheckResult;

    /// <summary>The password is right and the user has MFA: the code step must follow, with this ticket (5 minutes, single use).</summary>
    public sealed record MfaRequired(string Ticket) : CredentialCheckResult;

    /// <summary>Wrong password, unknown or disabled account: one answer for all.</summary>
    public sealed record Refused : CredentialCheckResult;

    /// <summary>The password is right but an administrator requires a new one first (no session is opened).</summary>
    public sealed record PasswordChangeRequired : CredentialCheckResult;

    /// <summary>auth-service throttled the attempt (429) and says when to try again.</summary>
    public sealed record Throttled(TimeSpan? RetryAfter) : CredentialCheckResult;

    public sealed record Unavailable : CredentialCheckResult;

    /// <summary>External sign-in: an account with the provider's email exists and is not linked; its password must be proved first.</summary>
    public sealed record LinkRequired : CredentialCheckResult;
}

/// <summary>
/// The back channel to auth-service for the hosted sign-in. token-service authenticates with an access token it
/// signs itself (<c>sub</c>/<c>client_id</c> token-service, scope <see cref="Protocol.CredentialCheck.Scope"/>),
/// which auth-service validates like any platform token: no further shared secret.
/// </summary>
public sealed partial class AuthServiceClient(
    HttpClient http, IOptionsMonitor<OpenIddictServerOptions> server, KeyRing keys, IOptions<TokenOptions> options, TimeProvider clock, ILogger<AuthServiceClient> logger)
{
    /// <summary>Service discovery name; resolved from <c>services:auth-service:https:0</c> / <c>http:0</c>.</summary>
    public const string BaseAddress = "https+http://auth-service";

    /// <summary>One attempt (no retries, see its registration), with room for Argon2id on a busy host.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private static readonly TimeSpan TokenLifetime = TimeSpan.FromMinutes(5);
    private readonly Lock _gate = new();
    private (string Token, DateTimeOffset RenewAt)? _token;

    /// <param name="deviceCookie">The browser's device cookie (<see cref="HostedDeviceCookie"/>), if it has one.</param>
    public Task<CredentialCheckResult> VerifyPasswordAsync(string email, string password, string? clientId, string? deviceCookie, HttpContext browser, CancellationToken cancellationToken) =>
        SendAsync(Protocol.CredentialCheck.Path, new
        {
            email,
            password,
            clientId,
            clientIp = Messaging.EventStamping.ClientAddress(browser),
            userAgent = Messaging.EventStamping.UserAgent(browser),
            deviceCookie,
        }, browser, cancellationToken);

    /// <summary>The second step: the ticket of <see cref="VerifyPasswordAsync"/> and a TOTP code or a recovery code.</summary>
    public Task<CredentialCheckResult> VerifySecondFactorAsync(string ticket, string? code, string? recoveryCode, HttpContext browser, CancellationToken cancellationToken) =>
        SendAsync(Protocol.CredentialCheck.MfaPath, new
        {
            ticket,
            code,
            recoveryCode,
            clientIp = Messaging.EventStamping.ClientAddress(browser),
            userAgent = Messaging.EventStamping.UserAgent(browser),
        }, browser, cancellationToken);

    /// <summary>An external provider vouched for (provider, subject): auth-service finds, creates or (with <paramref name="linkTo"/>) links the account.</summary>
    public Task<CredentialCheckResult> SignInExternalAsync(
        string provider, string subject, string? email, bool emailVerified, string? clientId, string? linkTo, HttpContext browser, CancellationToken cancellationToken) =>
        SendAsync(Protocol.CredentialCheck.ExternalPath, new
        {
            provider,
            providerSubject = subject,
            email,
            emailVerified,
            clientId,
            clientIp = Messaging.EventStamping.ClientAddress(browser),
            userAgent = Messaging.EventStamping.UserAgent(browser),
            linkToSubject = linkTo,
        }, browser, cancellationToken);

    public sealed record ExternalLogin(string Provider, string? DisplayName);

    public sealed record LinkedLogins(IReadOnlyList<ExternalLogin> Logins, bool HasPassword);

    /// <summary>The external sign-ins linked to an account (security page); null when auth-service cannot say.</summary>
    public async Task<LinkedLogins?> LinkedLoginsAsync(string subject, HttpContext browser, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{Protocol.CredentialCheck.LinksPath}/{Uri.EscapeDataString(subject)}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", BackChannelToken(browser));
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            return response.IsSuccessStatusCode
                ? await response.Content.ReadFromJsonAsync<LinkedLogins>(System.Text.Json.JsonSerializerOptions.Web, cancellationToken)
                : null;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            LogUnreachable(ex.GetType().Name);
            return null;
        }
    }

    /// <summary>Removes one linked provider; false when refused (the account's last way to sign in) or unknown.</summary>
    public async Task<bool> UnlinkAsync(string subject, string provider, HttpContext browser, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, $"{Protocol.CredentialCheck.LinksPath}/{Uri.EscapeDataString(subject)}/{Uri.EscapeDataString(provider)}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", BackChannelToken(browser));
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            return response.StatusCode == HttpStatusCode.NoContent;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            LogUnreachable(ex.GetType().Name);
            return false;
        }
    }

    /// <summary>The <c>reason</c> of auth-service's problem answer; null when the body is empty or not such a problem (an authorization refusal has none).</summary>
    private static async Task<string?> ReasonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            using var problem = System.Text.Json.JsonDocument.Parse(body.Length == 0 ? "null" : body);
            return problem.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                   && problem.RootElement.TryGetProperty("reason", out var reason) && reason.ValueKind == System.Text.Json.JsonValueKind.String
                ? reason.GetString()
                : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private async Task<CredentialCheckResult> SendAsync(string path, object body, HttpContext browser, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", BackChannelToken(browser));
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            switch (response.StatusCode)
            {
                case HttpStatusCode.OK:
                    var json = await response.Content.ReadAsStringAsync(cancellationToken);
                    if (System.Text.Json.JsonSerializer.Deserialize<MfaChallenge>(json, System.Text.Json.JsonSerializerOptions.Web) is { MfaRequired: true, MfaTicket.Length: > 0 } challenge)
                    {
                        return new CredentialCheckResult.MfaRequired(challenge.MfaTicket);
                    }
                    var user = System.Text.Json.JsonSerializer.Deserialize<VerifiedUser>(json, System.Text.Json.JsonSerializerOptions.Web);
                    return user is { Subject.Length: > 0 } ? new CredentialCheckResult.Verified(user) : new CredentialCheckResult.Unavailable();
                case HttpStatusCode.Forbidden:
                    // Answered only after the password was proved right, so it tells nothing to someone guessing.
                    return await ReasonAsync(response, cancellationToken) == "password_change_required"
                        ? new CredentialCheckResult.PasswordChangeRequired()
                        : new CredentialCheckResult.Refused();
                case HttpStatusCode.Unauthorized:
                    return new CredentialCheckResult.Refused();
                case HttpStatusCode.Conflict:
                    return await ReasonAsync(response, cancellationToken) == "link_required"
                        ? new CredentialCheckResult.LinkRequired()
                        : new CredentialCheckResult.Refused();
                case HttpStatusCode.TooManyRequests:
                    return new CredentialCheckResult.Throttled(response.Headers.RetryAfter?.Delta);
                default:
                    LogUnexpected((int)response.StatusCode);
                    return new CredentialCheckResult.Unavailable();
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            LogUnreachable(ex.GetType().Name);
            return new CredentialCheckResult.Unavailable();
        }
    }

    /// <summary>A short-lived access token for the back channel, signed with the active published key; renewed before it expires.</summary>
    private string BackChannelToken(HttpContext browser)
    {
        var now = clock.GetUtcNow();
        lock (_gate)
        {
            if (_token is { } cached && cached.RenewAt > now)
            {
                return cached.Token;
            }
        }
        var credentials = server.CurrentValue.SigningCredentials.Find(c => c.Key is AsymmetricSecurityKey && c.Key.KeyId == keys.ActiveKeyId)
            ?? server.CurrentValue.SigningCredentials.First(c => c.Key is AsymmetricSecurityKey);
        var issuer = options.Value.Issuer?.ToString() ?? $"{browser.Request.Scheme}://{browser.Request.Host}/";
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = PlatformClaims.Audience,
            TokenType = "at+jwt",
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = (now + TokenLifetime).UtcDateTime,
            SigningCredentials = credentials,
            Subject = new ClaimsIdentity(
            [
                new Claim(Claims.Subject, Protocol.Services.Token),
                new Claim(Claims.ClientId, Protocol.Services.Token),
                new Claim(Claims.Scope, Protocol.CredentialCheck.Scope),
                new Claim(Claims.JwtId, Guid.NewGuid().ToString("N")),
            ]),
        });
        lock (_gate)
        {
            _token = (token, now + TokenLifetime / 2);
        }
        return token;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "auth-service answered the credential check with {Status}")]
    private partial void LogUnexpected(int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "auth-service is unreachable for the credential check ({ErrorType})")]
    private partial void LogUnreachable(string errorType);
}
