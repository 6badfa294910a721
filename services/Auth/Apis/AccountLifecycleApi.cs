using System.Security.Claims;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.IntegrationEvents;
using SecurePlatform.Auth.Model;
using SecurePlatform.Auth.Services;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.RateLimiting;
using SecurePlatform.ServiceDefaults.Security;
using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.Auth.Apis;

/// <summary>
/// The user's own account lifecycle: deleting it (<c>DELETE /auth/account</c>), and the password change an administrator
/// required (<c>POST /auth/password/expired</c>), which needs no session because the sign-in refuses to open one.
/// </summary>
public static partial class AccountLifecycleApi
{
    public const string PasswordChangeRequiredReason = "password_change_required";

    public sealed record DeleteAccountRequest(string? Password);

    public sealed record ExpiredPasswordRequest(string? Email, string? CurrentPassword, string? NewPassword, string? Code, string? RecoveryCode);

    public static IEndpointRouteBuilder MapAccountLifecycleApi(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/auth").WithTags("Accounts").WithValidation().RequireRateLimit(RateLimitPolicies.PasswordChange);
        auth.MapDelete("/account", DeleteAccountAsync)
            .WithName("DeleteMyAccount")
            .WithSummary("Deletes the caller's account and credentials (the current password is required when the account has one); every session ends and the profile is erased.")
            .RequireAuthorization()
            .RequireRecentAuthentication()
            .Accepts<DeleteAccountRequest>("application/json")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        auth.MapPost("/password/expired", ChangeExpiredPasswordAsync)
            .WithName("ChangeRequiredPassword")
            .WithSummary("Sets a new password when an administrator required it (the sign-in answered 403 password_change_required): email, current password, and the TOTP or recovery code when MFA is on.")
            .Accepts<ExpiredPasswordRequest>("application/json")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        return app;
    }

    /// <summary>
    /// What every sign-in path answers, once the password (and no more) proved who it is, while an administrator requires
    /// a new password: no session, no ticket; the reason tells the client to send the user to <c>POST /auth/password/expired</c>.
    /// </summary>
    internal static ProblemHttpResult PasswordChangeRequiredProblem() => TypedResults.Problem(
        statusCode: StatusCodes.Status403Forbidden,
        title: "A new password is required.",
        detail: "An administrator requires a new password before the next sign-in: set one with POST /auth/password/expired, then sign in with it.",
        extensions: new Dictionary<string, object?> { ["reason"] = PasswordChangeRequiredReason });

    // The password as well as a recent sign-in. Recent authentication shows that the token comes from a fresh sign-in,
    // not that whoever holds it now is the owner: a token taken by a script in the page or from an unlocked device
    // within the window would otherwise erase the account for good, and deletion has no undo. The password is what
    // such a thief lacks. An account with only external sign-ins has no password; its recent sign-in is the proof.
    internal static async Task<IResult> DeleteAccountAsync(
        [FromBody] DeleteAccountRequest body, ClaimsPrincipal principal, HttpContext http, [AsParameters] AccountLifecycleServices services, CancellationToken cancellationToken)
    {
        var sub = PlatformClaims.SubjectOf(principal)!;
        var user = await services.UserManager.FindByIdAsync(sub);
        if (user is null || user.IsDisabled)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized.");
        }
        if (user.PasswordHash is not null
            && (string.IsNullOrEmpty(body.Password) || services.Hasher.VerifyHashedPassword(user, user.PasswordHash, body.Password) == PasswordVerificationResult.Failed))
        {
            return new FieldErrors().Add("password", "incorrect", "The current password is required and must be right.").ToResult();
        }
        switch (await services.Users.DeleteAsync(sub, http, actor: sub, cancellationToken))
        {
            case AdminChangeResult.NotFound:
                return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized.");
            case AdminChangeResult.LastAdministrator:
                return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The last administrator cannot delete the account.",
                    detail: "Grant the admin role to another enabled account first: the platform keeps at least one administrator.",
                    extensions: new Dictionary<string, object?> { ["reason"] = "last_administrator" });
        }

        // At once: the other sessions, then the caller's. UserDeleted makes token-service end them all again should this fail.
        var authorization = http.Request.Headers.Authorization.ToString();
        var others = await services.Tokens.RevokeOtherSessionsAsync(authorization, CancellationToken.None);
        var own = PlatformClaims.SessionOf(principal) is not { } sid || await services.Tokens.RevokeSessionAsync(sid, authorization, CancellationToken.None);
        if (!others || !own)
        {
            LogSessionsNotRevoked(services.Logger, sub);
        }
        http.Response.Headers["Clear-Site-Data"] = "\"cache\",\"cookies\",\"storage\"";
        RefreshCookie.Clear(http.Response);
        return TypedResults.NoContent();
    }

    internal static async Task<IResult> ChangeExpiredPasswordAsync(
        ExpiredPasswordRequest body, HttpContext http, [AsParameters] AccountLifecycleServices services, CancellationToken cancellationToken)
    {
        // The same check as a sign-in (throttle, timing, failure events): this route is a sign-in that ends in a new password.
        var result = await services.Credentials.CheckAsync(
            new CredentialCheckRequest(body.Email, body.CurrentPassword!, http.Connection.RemoteIpAddress, EventStamping.UserAgent(http), http.Request.Cookies[services.Devices.Name]),
            cancellationToken);
        switch (result)
        {
            case CredentialCheckResult.Throttled throttled:
                return RateLimitRejection.Result(throttled.Policy, throttled.ClientPartition, throttled.RetryAfter);
            case not CredentialCheckResult.Verified:
                return SessionApi.InvalidCredentials();
        }
        var (user, _, mfaRequired) = (CredentialCheckResult.Verified)result;
        if (!user.PasswordChangeRequired)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "No password change is required.",
                detail: "Sign in with POST /auth/login; change the password with POST /auth/password/change.");
        }
        if (mfaRequired)
        {
            // The password alone must not replace the password of an account that has a second factor.
            if (string.IsNullOrEmpty(body.Code) == string.IsNullOrEmpty(body.RecoveryCode))
            {
                return new FieldErrors().Add("code", "required", "MFA is on: exactly one of code and recoveryCode is required.").ToResult();
            }
            var second = await services.SecondFactor.CheckAsync(
                new SecondFactorRequest(user, body.Code, body.RecoveryCode, http.Connection.RemoteIpAddress, EventStamping.UserAgent(http)), cancellationToken);
            switch (second)
            {
                case SecondFactorResult.Throttled throttled:
                    return RateLimitRejection.Result(throttled.Policy, throttled.ClientPartition, throttled.RetryAfter);
                case not SecondFactorResult.Verified:
                    return SessionApi.InvalidCode();
            }
        }
        var errors = new FieldErrors();
        AccountApi.AddNewPasswordProblems(errors, services.Policy, body.NewPassword, body.CurrentPassword, user.Email);
        if (errors.Any)
        {
            return errors.ToResult();
        }
        user.PasswordHash = services.Hasher.HashPassword(user, body.NewPassword!);
        user.SecurityStamp = Guid.NewGuid().ToString("N");
        user.PasswordChangeRequired = false;
        services.Db.AddIntegrationEvent(AuthEvents.Create<PasswordChanged>(http, actor: user.Id, subject: user.Id));
        if (!(await services.UserManager.UpdateAsync(user)).Succeeded)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The account changed meanwhile.", detail: "Retry the request.");
        }
        return TypedResults.NoContent();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Account {UserId} deleted but token-service did not confirm ending its sessions; the UserDeleted event will")]
    private static partial void LogSessionsNotRevoked(ILogger logger, string userId);
}

/// <summary>What the account lifecycle handlers need.</summary>
public sealed class AccountLifecycleServices(
    UserManager<User> userManager,
    AuthDbContext db,
    UserAdministration users,
    IPasswordHasher<User> hasher,
    PasswordPolicy policy,
    CredentialCheck credentials,
    SecondFactorCheck secondFactor,
    DeviceCookies devices,
    TokenServiceClient tokens,
    ILogger<AccountLifecycleServices> logger)
{
    public UserManager<User> UserManager { get; } = userManager;

    public AuthDbContext Db { get; } = db;

    public UserAdministration Users { get; } = users;

    public IPasswordHasher<User> Hasher { get; } = hasher;

    public PasswordPolicy Policy { get; } = policy;

    public CredentialCheck Credentials { get; } = credentials;

    public SecondFactorCheck SecondFactor { get; } = secondFactor;

    public DeviceCookies Devices { get; } = devices;

    public TokenServiceClient Tokens { get; } = tokens;

    public ILogger<AccountLifecycleServices> Logger { get; } = logger;
}

public sealed class DeleteAccountRequestValidator : AbstractValidator<AccountLifecycleApi.DeleteAccountRequest>
{
    public DeleteAccountRequestValidator() =>
        RuleFor(r => r.Password).MaximumLength(PasswordPolicy.MaxLength * 4).WithMessage("The password is too long.");
}

public sealed class ExpiredPasswordRequestValidator : AbstractValidator<AccountLifecycleApi.ExpiredPasswordRequest>
{
    public ExpiredPasswordRequestValidator()
    {
        RuleFor(r => r.Email).NotEmpty().WithErrorCode(EmailAddress.Rules.Required).WithMessage("An email address is required.")
            .MaximumLength(EmailAddress.MaxLength).WithMessage("The email address is too long.");
        RuleFor(r => r.CurrentPassword).NotEmpty().WithErrorCode(PasswordPolicy.Rules.Required).WithMessage("The current password is required.")
            .MaximumLength(PasswordPolicy.MaxLength * 4).WithMessage("The password is too long.");
        RuleFor(r => r.NewPassword).NotEmpty().WithErrorCode(PasswordPolicy.Rules.Required).WithMessage("A new password is required.");
        RuleFor(r => r.Code).MaximumLength(16).WithMessage("The code is too long.");
        RuleFor(r => r.RecoveryCode).MaximumLength(32).WithMessage("The recovery code is too long.");
    }
}
