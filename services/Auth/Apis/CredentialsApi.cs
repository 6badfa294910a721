using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.IntegrationEvents;
using SecurePlatform.Auth.Model;
using SecurePlatform.Contracts;
using SecurePlatform.Auth.Services;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.RateLimiting;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.Auth.Apis;

/// <summary>
/// The hosted sign-in's credential check, for token-service only: the same code as <c>POST /auth/login</c>
/// (<see cref="SessionApi.VerifyPasswordAsync"/>) without the tokens, which token-service issues itself through
/// the authorization code flow.
/// </summary>
public static class CredentialsApi
{
    public const string TokenServicePolicy = "token-service-back-channel";

    /// <param name="DeviceCookie">The value of the device cookie token-service keeps for the browser (see <see cref="DeviceCookies"/>), if it has one.</param>
    public sealed record VerifyRequest(string? Email, string? Password, string? ClientId, string? ClientIp, string? UserAgent, string? DeviceCookie);

    /// <param name="DeviceCookie">After a password sign-in: the device cookie's (new) value for token-service to keep for the browser, for <paramref name="DeviceCookieMaxAge"/> seconds.</param>
    public sealed record VerifiedUser(string Subject, string[] Amr, string[] Roles, string? Email, bool EmailVerified, string? DeviceCookie = null, int? DeviceCookieMaxAge = null);

    public sealed record VerifyMfaRequest(string? Ticket, string? Code, string? RecoveryCode, string? ClientIp, string? UserAgent);

    public static IEndpointRouteBuilder MapCredentialsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost(Protocol.CredentialCheck.Path, VerifyAsync)
            .WithTags("Back channel")
            .WithSummary("token-service's hosted login: checks email and password for the browser whose address and user agent it names.")
            .RequireAuthorization(TokenServicePolicy)
            .WithRequestBodyLimit(AuthBodies.MaxBytes)
            .Accepts<VerifyRequest>("application/json")
            .Produces<VerifiedUser>(StatusCodes.Status200OK)
            .Produces<SessionApi.MfaChallenge>(StatusCodes.Status200OK)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        app.MapPost(Protocol.CredentialCheck.MfaPath, VerifyMfaAsync)
            .WithTags("Back channel")
            .WithSummary("token-service's hosted login, second step: the ticket of the password step and a TOTP or recovery code.")
            .RequireAuthorization(TokenServicePolicy)
            .WithRequestBodyLimit(AuthBodies.MaxBytes)
            .Accepts<VerifyMfaRequest>("application/json")
            .Produces<VerifiedUser>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        return app;
    }

    /// <summary>A platform token of token-service itself, for this one purpose: no user, no session.</summary>
    public static void AddTokenServicePolicy(Microsoft.AspNetCore.Authorization.AuthorizationOptions options) =>
        options.AddPolicy(TokenServicePolicy, policy => policy.RequireAuthenticatedUser().RequireAssertion(context =>
            context.User.FindFirstValue("client_id") == Protocol.Services.Token
            && context.User.FindFirstValue(PlatformClaims.Subject) == Protocol.Services.Token
            && PlatformClaims.SessionOf(context.User) is null
            && (context.User.FindFirstValue("scope") ?? "").Split(' ').Contains(Protocol.CredentialCheck.Scope)));

    internal static async Task<IResult> VerifyAsync(VerifyRequest request, HttpContext http, [AsParameters] LoginServices services, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.Email) || string.IsNullOrEmpty(request.Password))
        {
            return SessionApi.InvalidCredentials();
        }
        // token-service forwards the browser's address, user agent and device cookie: events and throttling concern the
        // browser, and a known one keeps its budget while its account is attacked from elsewhere, as on the API login.
        var browser = IPAddress.TryParse(request.ClientIp, out var address) ? address : http.Connection.RemoteIpAddress;
        http.Connection.RemoteIpAddress = browser;
        http.Request.Headers.UserAgent = EventStamping.Truncate(request.UserAgent) ?? "";
        var result = await services.Credentials.CheckAsync(
            new CredentialCheckRequest(request.Email, request.Password, browser, EventStamping.Truncate(request.UserAgent), request.DeviceCookie), cancellationToken);
        switch (result)
        {
            case CredentialCheckResult.Throttled throttled:
                return RateLimitRejection.Result(throttled.Policy, throttled.ClientPartition, throttled.RetryAfter);
            case not CredentialCheckResult.Verified:
                return SessionApi.InvalidCredentials();
        }
        var verified = (CredentialCheckResult.Verified)result;
        var (user, deviceCookie, mfaRequired) = verified;
        if (user.PasswordChangeRequired)
        {
            return AccountLifecycleApi.PasswordChangeRequiredProblem();
        }
        http.Response.Headers.CacheControl = "no-store";
        if (mfaRequired)
        {
            // The same answer as POST /auth/login's first step; the ticket is good only at the back channel's second step.
            var ticket = await services.Tickets.IssueAsync(user.Id, new MfaTicketPayload(MfaTicketChannel.HostedLogin, request.ClientId, false, deviceCookie), cancellationToken);
            return TypedResults.Ok(new SessionApi.MfaChallenge(true, ticket, (int)MfaTickets.Lifetime.TotalSeconds));
        }
        return await VerifiedAsync(http, services, user, MfaRules.PasswordOnly, request.ClientId, deviceCookie, verified.Roles);
    }

    internal static async Task<IResult> VerifyMfaAsync(VerifyMfaRequest request, HttpContext http, [AsParameters] LoginServices services, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.Ticket) || string.IsNullOrEmpty(request.Code) == string.IsNullOrEmpty(request.RecoveryCode)
            || request.Code is { Length: > 16 } || request.RecoveryCode is { Length: > 32 })
        {
            return SessionApi.InvalidCode();
        }
        var browser = IPAddress.TryParse(request.ClientIp, out var address) ? address : http.Connection.RemoteIpAddress;
        http.Connection.RemoteIpAddress = browser;
        http.Request.Headers.UserAgent = EventStamping.Truncate(request.UserAgent) ?? "";
        var ticket = await services.Tickets.PeekAsync(request.Ticket, cancellationToken);
        var user = ticket is { Payload.Channel: MfaTicketChannel.HostedLogin or MfaTicketChannel.HostedExternal } ? await services.Users.FindByIdAsync(ticket.Value.Subject) : null;
        if (user is null || user.IsDisabled)
        {
            return SessionApi.InvalidTicket();
        }
        // One second step per ticket at a time, so concurrent ones cannot each spend a code (see ClaimAsync).
        if (!await services.Tickets.ClaimAsync(request.Ticket, cancellationToken))
        {
            return SessionApi.InvalidTicket();
        }
        var consumed = false;
        try
        {
            switch (await services.SecondFactor.CheckAsync(new SecondFactorRequest(user, request.Code, request.RecoveryCode, browser, EventStamping.Truncate(request.UserAgent)), cancellationToken))
            {
                case SecondFactorResult.Throttled throttled:
                    return RateLimitRejection.Result(throttled.Policy, throttled.ClientPartition, throttled.RetryAfter);
                case SecondFactorResult.Failed:
                    await services.Tickets.RecordFailureAsync(request.Ticket, CancellationToken.None);
                    return SessionApi.InvalidCode();
            }
            consumed = await services.Tickets.ConsumeAsync(request.Ticket, CancellationToken.None);
            if (!consumed)
            {
                return SessionApi.InvalidTicket();
            }
        }
        finally
        {
            if (!consumed)
            {
                await services.Tickets.ReleaseAsync(request.Ticket, CancellationToken.None);
            }
        }
        http.Response.Headers.CacheControl = "no-store";
        var amr = ticket!.Value.Payload.Channel == MfaTicketChannel.HostedExternal ? ExternalAccountsApi.FederatedAndOtp : MfaRules.PasswordAndOtp;
        return await VerifiedAsync(http, services, user, amr, ticket.Value.Payload.ClientId, ticket.Value.Payload.DeviceCookie);
    }

    /// <param name="userRoles">The user's stored roles when the caller read them already (the credential check); else read here.</param>
    internal static async Task<IResult> VerifiedAsync(
        HttpContext http, LoginServices services, Model.User user, string[] amr, string? clientId, string? deviceCookie = null, IEnumerable<string>? userRoles = null)
    {
        if (user.PasswordChangeRequired)
        {
            return AccountLifecycleApi.PasswordChangeRequiredProblem(); // also after an external sign-in or a pending second step
        }
        var roles = MfaRules.SessionRoles(userRoles ?? await services.Users.GetRolesAsync(user), amr);
        user.LastLoginAt = DateTimeOffset.UtcNow;
        // The session opens when the client redeems its code (token-service's SessionCreated names it).
        services.Db.AddIntegrationEvent(AuthEvents.Create<LoginSucceeded>(http, actor: user.Id, subject: user.Id) with { ClientId = clientId ?? "", Amr = amr });
        await services.Db.SaveChangesAsync(CancellationToken.None);
        return TypedResults.Ok(new VerifiedUser(user.Id, amr, roles, user.Email, user.EmailConfirmed,
            deviceCookie, deviceCookie is null ? null : (int)services.Devices.Lifetime.TotalSeconds));
    }
}
