using Microsoft.AspNetCore.Http.HttpResults;
using System.Security.Claims;
using Microsoft.Net.Http.Headers;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.IntegrationEvents;
using SecurePlatform.Auth.Model;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.RateLimiting;
using SecurePlatform.ServiceDefaults.Security;
using SecurePlatform.Auth.Services;
using SecurePlatform.ServiceDefaults.Validation;
using FluentValidation;

namespace SecurePlatform.Auth.Apis;

/// <summary>Sign-in and sign-out. Tokens and sessions belong to token-service; this side verifies who you are.</summary>
public static partial class SessionApi
{
    public sealed record LoginRequest(string? Email, string? Password, string? ClientId, bool? UseCookie);

    /// <summary>RFC 6749 §5.1 token response, as token-service sends it (documented shape; relayed byte for byte).</summary>
    public sealed record TokenResponse(
        [property: System.Text.Json.Serialization.JsonPropertyName("access_token")] string AccessToken,
        [property: System.Text.Json.Serialization.JsonPropertyName("refresh_token")] string? RefreshToken,
        [property: System.Text.Json.Serialization.JsonPropertyName("token_type")] string TokenType,
        [property: System.Text.Json.Serialization.JsonPropertyName("expires_in")] int ExpiresIn,
        [property: System.Text.Json.Serialization.JsonPropertyName("scope")] string? Scope);

    /// <summary>
    /// The password step's answer for a user with a second factor: 200 (the step succeeded), no tokens, a ticket for
    /// <c>POST /auth/login/mfa</c>. Not a 401: clients and proxies treat 401 as failure and <c>WWW-Authenticate</c>
    /// semantics do not fit; the absence of <c>access_token</c> and <c>mfaRequired: true</c> are unambiguous.
    /// </summary>
    public sealed record MfaChallenge(bool MfaRequired, string MfaTicket, int ExpiresIn);

    public sealed record MfaLoginRequest(string? Ticket, string? Code, string? RecoveryCode);

    public const string InvalidTicketTitle = "The sign-in ticket is not valid.";
    public const string InvalidCodeTitle = "The code is not valid.";

    /// <summary>The one answer to every failed sign-in: wrong password, unknown email, disabled account.</summary>
    public const string InvalidCredentialsTitle = "Invalid email or password.";

    public static IEndpointRouteBuilder MapSessionApi(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/auth").WithTags("Sessions").WithRequestBodyLimit(AuthBodies.MaxBytes).WithValidation();
        auth.MapPost("/login", LoginAsync)
            .WithName("Login")
            .WithSummary("Verifies email and password and returns the token response of a new session (refresh token in a cookie when useCookie is true).")
            .Accepts<LoginRequest>("application/json")
            .Produces<TokenResponse>(StatusCodes.Status200OK)
            .Produces<MfaChallenge>(StatusCodes.Status200OK)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        auth.MapPost("/login/mfa", LoginMfaAsync)
            .WithName("LoginMfa")
            .WithSummary("Second step of a sign-in with MFA: the password step's ticket and a TOTP code (or a recovery code) for the token response.")
            .Accepts<MfaLoginRequest>("application/json")
            .Produces<TokenResponse>(StatusCodes.Status200OK)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        auth.MapPost("/logout", LogoutAsync)
            .WithName("Logout")
            .WithSummary("Ends the caller's session everywhere and clears the browser's state.")
            .RequireAuthorization()
            // While Redis is away a validly signed token can still end its session (token-service commits it in
            // tokendb; every service refuses the token once Redis is back): never a 401 for "could not check".
            .AllowUncheckedRevocation()
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    internal static async Task<IResult> LoginAsync(LoginRequest request, HttpContext http, [AsParameters] LoginServices services, CancellationToken cancellationToken)
    {
        // Validated already (LoginRequestValidator).
        var checkedCredentials = await services.Credentials.CheckAsync(
            new CredentialCheckRequest(request.Email, request.Password!, http.Connection.RemoteIpAddress, EventStamping.UserAgent(http),
                http.Request.Cookies[services.Devices.Name]),
            cancellationToken);
        switch (checkedCredentials)
        {
            case CredentialCheckResult.Throttled throttled:
                return RateLimitRejection.Result(throttled.Policy, throttled.ClientPartition, throttled.RetryAfter);
            case CredentialCheckResult.Failed:
                return InvalidCredentials();
        }
        var verified = (CredentialCheckResult.Verified)checkedCredentials;
        var (user, deviceCookie, mfaRequired) = verified;
        if (user.PasswordChangeRequired)
        {
            return AccountLifecycleApi.PasswordChangeRequiredProblem();
        }
        var clientId = request.ClientId ?? services.Options.Value.DefaultClientId;
        if (mfaRequired)
        {
            // Step one of two: no tokens, no session, no device cookie yet; a ticket for POST /auth/login/mfa.
            var ticket = await services.Tickets.IssueAsync(user.Id, new MfaTicketPayload(MfaTicketChannel.Api, clientId, request.UseCookie == true, deviceCookie), cancellationToken);
            NoStore(http);
            return TypedResults.Ok(new MfaChallenge(true, ticket, (int)MfaTickets.Lifetime.TotalSeconds));
        }
        return await OpenSessionAsync(http, services, user, verified.Roles, MfaRules.PasswordOnly, clientId, request.UseCookie == true, deviceCookie, cancellationToken);
    }

    /// <summary>Step two: ticket + TOTP code (or recovery code) for the session the password step did not open.</summary>
    internal static async Task<IResult> LoginMfaAsync(MfaLoginRequest request, HttpContext http, [AsParameters] LoginServices services, CancellationToken cancellationToken)
    {
        // Validated already (MfaLoginRequestValidator).
        var ticket = await services.Tickets.PeekAsync(request.Ticket, cancellationToken);
        var user = ticket is { Payload.Channel: MfaTicketChannel.Api } ? await services.Users.FindByIdAsync(ticket.Value.Subject) : null;
        if (user is null || user.IsDisabled)
        {
            return InvalidTicket();
        }
        // One second step per ticket at a time, so concurrent ones cannot each spend a code (see ClaimAsync).
        if (!await services.Tickets.ClaimAsync(request.Ticket!, cancellationToken))
        {
            return InvalidTicket();
        }
        var consumed = false;
        try
        {
            var checkedFactor = await services.SecondFactor.CheckAsync(
                new SecondFactorRequest(user, request.Code, request.RecoveryCode, http.Connection.RemoteIpAddress, EventStamping.UserAgent(http)), cancellationToken);
            switch (checkedFactor)
            {
                case SecondFactorResult.Throttled throttled:
                    return RateLimitRejection.Result(throttled.Policy, throttled.ClientPartition, throttled.RetryAfter);
                case SecondFactorResult.Failed:
                    await services.Tickets.RecordFailureAsync(request.Ticket!, CancellationToken.None);
                    return InvalidCode();
            }
            consumed = await services.Tickets.ConsumeAsync(request.Ticket!, CancellationToken.None);
            if (!consumed)
            {
                return InvalidTicket(); // expired meanwhile
            }
        }
        finally
        {
            if (!consumed)
            {
                await services.Tickets.ReleaseAsync(request.Ticket!, CancellationToken.None);
            }
        }
        var payload = ticket!.Value.Payload;
        return await OpenSessionAsync(http, services, user, await services.Users.GetRolesAsync(user), MfaRules.PasswordAndOtp, payload.ClientId ?? services.Options.Value.DefaultClientId,
            payload.UseCookie, payload.DeviceCookie, cancellationToken);
    }

    /// <summary>Asks token-service for the session and relays its token response.</summary>
    /// <param name="userRoles">The user's roles as stored (read with the account by the credential check, or at the second step).</param>
    private static async Task<IResult> OpenSessionAsync(
        HttpContext http, LoginServices services, User user, IEnumerable<string> userRoles, string[] amr, string clientId, bool useCookie, string? deviceCookie,
        CancellationToken cancellationToken)
    {
        if (user.PasswordChangeRequired)
        {
            return AccountLifecycleApi.PasswordChangeRequiredProblem(); // required while the second step was pending
        }
        var roles = MfaRules.SessionRoles(userRoles, amr);
        var issued = await services.Tokens.SignInAsync(
            new SignInGrant(user.Id, amr, roles, clientId, EventStamping.ClientAddress(http), EventStamping.UserAgent(http),
                RefreshTokenInCookie: useCookie),
            cancellationToken);
        switch (issued)
        {
            case TokenServiceResult.Rejected rejected:
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status400BadRequest,
                    title: "The sign-in could not be completed.",
                    detail: "The requested client is not a registered first-party client, or the request was refused.",
                    extensions: rejected.Error is null ? null : new Dictionary<string, object?> { ["error"] = rejected.Error });
            case TokenServiceResult.Unavailable:
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status503ServiceUnavailable,
                    title: "Sign-in is temporarily unavailable.",
                    detail: "Try again in a moment.");
        }
        var tokens = (TokenServiceResult.Issued)issued;

        // The session exists now: record it even if the caller has gone.
        user.LastLoginAt = DateTimeOffset.UtcNow;
        services.Db.AddIntegrationEvent(AuthEvents.Create<LoginSucceeded>(http, actor: user.Id, subject: user.Id) with
        {
            SessionId = tokens.SessionId,
            ClientId = clientId,
            Amr = amr,
        });
        await services.Db.SaveChangesAsync(CancellationToken.None);

        NoStore(http);
        if (deviceCookie is not null)
        {
            http.Response.Headers.Append(HeaderNames.SetCookie, services.Devices.SetCookie(deviceCookie));
        }
        if (tokens.RefreshCookie is not null)
        {
            // token-service owns the refresh cookie (name, attributes, Max-Age = the refresh token's lifetime).
            http.Response.Headers.Append(HeaderNames.SetCookie, tokens.RefreshCookie);
        }
        return TypedResults.Text(tokens.ResponseJson, "application/json; charset=utf-8", System.Text.Encoding.UTF8, StatusCodes.Status200OK);
    }

    private static void NoStore(HttpContext http)
    {
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.Pragma = "no-cache";
    }

    internal static async Task<IResult> LogoutAsync(
        ClaimsPrincipal principal, HttpContext http, TokenServiceClient tokens, AuthDbContext db, CancellationToken cancellationToken)
    {
        var sub = PlatformClaims.SubjectOf(principal)!;
        var sid = PlatformClaims.SessionOf(principal);
        if (sid is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "The token has no session.", detail: "Only a signed-in user's token can sign out.");
        }
        if (!await tokens.RevokeSessionAsync(sid, http.Request.Headers.Authorization.ToString(), cancellationToken))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Sign-out is temporarily unavailable.", detail: "Try again in a moment.");
        }
        db.AddIntegrationEvent(AuthEvents.Create<LoggedOut>(http, actor: sub, subject: sub) with { SessionId = sid });
        await db.SaveChangesAsync(CancellationToken.None);

        http.Response.Headers["Clear-Site-Data"] = "\"cache\",\"cookies\",\"storage\"";
        RefreshCookie.Clear(http.Response);
        return TypedResults.NoContent();
    }

    /// <summary>Unknown, expired, used or worn-out ticket (after too many wrong codes): sign in with the password again.</summary>
    internal static ProblemHttpResult InvalidTicket() => TypedResults.Problem(
        statusCode: StatusCodes.Status401Unauthorized,
        title: InvalidTicketTitle,
        detail: "Sign in with your email and password again.");

    internal static ProblemHttpResult InvalidCode() => TypedResults.Problem(
        statusCode: StatusCodes.Status401Unauthorized,
        title: InvalidCodeTitle,
        detail: "Check the code of your authenticator app (or the recovery code) and try again.");

    internal static ProblemHttpResult InvalidCredentials() => TypedResults.Problem(
        statusCode: StatusCodes.Status401Unauthorized,
        title: InvalidCredentialsTitle,
        detail: "Check the email address and the password and try again.");

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\\z", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    internal static partial Regex ClientIdSyntax();
}

/// <summary>The password step names an email, a password and, optionally, a well-formed client id.</summary>
public sealed class LoginRequestValidator : AbstractValidator<SessionApi.LoginRequest>
{
    public LoginRequestValidator()
    {
        RuleFor(r => r.Email).NotEmpty().WithErrorCode(EmailAddress.Rules.Required).WithMessage("An email address is required.");
        RuleFor(r => r.Password).NotEmpty().WithErrorCode(PasswordPolicy.Rules.Required).WithMessage("A password is required.");
        RuleFor(r => r.ClientId).Matches(SessionApi.ClientIdSyntax()).When(r => r.ClientId is not null)
            .WithErrorCode("format").WithMessage("The client id is not valid.");
    }
}

/// <summary>The second step names its ticket and exactly one of code and recovery code.</summary>
public sealed class MfaLoginRequestValidator : AbstractValidator<SessionApi.MfaLoginRequest>
{
    public MfaLoginRequestValidator()
    {
        RuleFor(r => r.Ticket).Must(t => t is { Length: > 0 and <= 128 }).WithErrorCode("required").WithMessage("The ticket of the password step is required.");
        RuleFor(r => r).Custom((request, context) =>
        {
            if (string.IsNullOrEmpty(request.Code) == string.IsNullOrEmpty(request.RecoveryCode))
            {
                context.AddFailure(RuleBuilderExtensions.Failure("code", "required", "Exactly one of code and recoveryCode is required."));
            }
            else if (request.Code is { Length: > 16 } || request.RecoveryCode is { Length: > 32 })
            {
                context.AddFailure(RuleBuilderExtensions.Failure(request.Code is null ? "recoveryCode" : "code", "maxLength", "The code is too long."));
            }
        });
    }
}

/// <summary>What the sign-in handler needs.</summary>
public sealed class LoginServices(
    UserManager<User> users,
    AuthDbContext db,
    CredentialCheck credentials,
    DeviceCookies devices,
    TokenServiceClient tokens,
    MfaTickets tickets,
    SecondFactorCheck secondFactor,
    IOptions<LoginOptions> options)
{
    public MfaTickets Tickets { get; } = tickets;

    public SecondFactorCheck SecondFactor { get; } = secondFactor;

    public UserManager<User> Users { get; } = users;

    public AuthDbContext Db { get; } = db;

    public CredentialCheck Credentials { get; } = credentials;

    public DeviceCookies Devices { get; } = devices;

    public TokenServiceClient Tokens { get; } = tokens;

    public IOptions<LoginOptions> Options { get; } = options;
}
