using Microsoft.Extensions.Options;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.IntegrationEvents;
using SecurePlatform.Auth.Model;
using SecurePlatform.Auth.Services;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.RateLimiting;
using SecurePlatform.ServiceDefaults.Validation;
using FluentValidation;

namespace SecurePlatform.Auth.Apis;

/// <summary>Accounts and passwords: register, the caller's own account, the password policy, password change.</summary>
public static partial class AccountApi
{
    public sealed record RegisterRequest(string? Email, string? Password);

    public sealed record RegisterResponse(string Id, string Email);

    public sealed record ChangePasswordRequest(string? CurrentPassword, string? NewPassword);

    /// <summary>
    /// The caller's own account: what auth-service holds, never a secret (no hash, authenticator secret, recovery codes
    /// or security stamp). Disabled is left out: a disabled account has no session to ask with.
    /// </summary>
    public sealed record AccountResponse(
        string Sub,
        string? Email,
        bool EmailVerified,
        DateTimeOffset CreatedAt,
        DateTimeOffset? LastLoginAt,
        IReadOnlyList<string> Roles,
        bool MfaEnabled,
        bool HasPassword,
        bool PasswordChangeRequired,
        IReadOnlyList<ExternalAccountsApi.ExternalLogin> ExternalLogins);

    public sealed record PolicyCheck(string Rule, string Description);

    public sealed record PasswordPolicyResponse(
        int MinLength,
        int MaxLength,
        string LengthUnit,
        string Normalization,
        bool CompositionRules,
        int CommonPasswordCount,
        int EmailPartMinLength,
        int EmailWordMinLength,
        IReadOnlyList<string> ServiceWords,
        IReadOnlyList<PolicyCheck> Checks);

    public static IEndpointRouteBuilder MapAccountApi(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/auth").WithTags("Accounts").WithRequestBodyLimit(AuthBodies.MaxBytes);
        // Closed registration is refused before any body is read, so whatever was sent, the answer is the same 403.
        var register = app.ServiceProvider.GetRequiredService<IOptions<RegistrationOptions>>().Value.Open
            ? auth.MapPost("/register", RegisterAsync)
                .Accepts<RegisterRequest>("application/json")
                .Produces<RegisterResponse>(StatusCodes.Status201Created)
                .ProducesValidationProblem()
                .WithValidation()
            : auth.MapPost("/register", RegistrationClosed).ProducesProblem(StatusCodes.Status403Forbidden);
        register
            .WithName("Register")
            .RequireRateLimit(RateLimitPolicies.Register)
            .WithSummary("Creates an account (email + password). An address that is already registered gets the same answer; its owner is told, nothing else changes.")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        auth.MapGet("/account", GetAccountAsync)
            .WithName("GetMyAccount")
            .WithSummary("The caller's own account: email and whether it is verified, creation and last sign-in, roles, whether MFA is enrolled, external sign-ins, whether a password change is required.")
            .RequireAuthorization()
            .Produces<AccountResponse>()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        auth.MapGet("/password-policy", GetPasswordPolicy)
            .WithName("GetPasswordPolicy")
            .WithSummary("The password rules in machine-readable form, for client-side guidance.");
        auth.MapPost("/password/change", ChangePasswordAsync)
            .WithName("ChangePassword")
            .RequireRateLimit(RateLimitPolicies.PasswordChange)
            .WithSummary("Changes the caller's password (the current one is required) and ends every other session of the caller.")
            .RequireAuthorization()
            .RequireRecentAuthentication()
            .Accepts<ChangePasswordRequest>("application/json")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .WithValidation();
        return app;
    }

    internal static ProblemHttpResult RegistrationClosed() => TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden,
        title: "Registration is closed.", detail: "New accounts cannot be created here; ask an administrator.");

    internal static async Task<IResult> RegisterAsync(
        RegisterRequest request, HttpContext http, [AsParameters] AccountServices services, CancellationToken cancellationToken)
    {
        // Validated already (RegisterRequestValidator): the address normalises.
        EmailAddress.TryNormalize(request.Email, out var email, out _);

        // An already registered address gets the answer a new one gets: 201, a fresh UUIDv7 id, the same
        // Argon2id work and one transaction writing an outbox row (RegistrationAttemptedForExistingAccount,
        // for the owner and the audit trail, instead of the new account's rows). No account is created or
        // changed, so registration is no cheap oracle of who has an account.
        if (await services.Users.FindByEmailAsync(email!) is { } owner)
        {
            _ = services.Hasher.HashPassword(new User(), request.Password!); // the cost of the real path
            services.Db.AddIntegrationEvent(AuthEvents.Create<RegistrationAttemptedForExistingAccount>(http, actor: null, subject: owner.Id));
            await services.Db.SaveChangesAsync(cancellationToken);
            return DecoyCreated(services, email!);
        }
        // One SaveChanges (one transaction, one batched round trip): account, role link and UserRegistered.
        // Not UserManager.CreateAsync + AddToRoleAsync: their extra look-ups, saves and update take measurably
        // longer than the decoy answer above, which a stopwatch could tell apart (EnumerationTimingTests). The rules they would apply are
        // applied above (EmailAddress, PasswordPolicy); the unique index on the user name is the last word.
        var user = new User
        {
            UserName = email,
            NormalizedUserName = services.Users.NormalizeName(email),
            Email = email,
            NormalizedEmail = services.Users.NormalizeEmail(email),
        };
        user.PasswordHash = services.Hasher.HashPassword(user, request.Password!);
        services.Db.Users.Add(user);
        services.Db.UserRoles.Add(new IdentityUserRole<string> { UserId = user.Id, RoleId = RoleNames.UserRoleId });
        services.Db.AddIntegrationEvent(AuthEvents.Create<UserRegistered>(http, actor: user.Id, subject: user.Id));
        try
        {
            await services.Db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // registered concurrently by another request between the look-up and the insert
            services.Db.ChangeTracker.Clear();
            return DecoyCreated(services, email!);
        }
        LogRegistered(services.Logger, user.Id);
        return TypedResults.Created((string?)null, new RegisterResponse(user.Id, email!));
    }

    private static Created<RegisterResponse> DecoyCreated(AccountServices services, string email)
    {
        LogDuplicateRegistration(services.Logger);
        return TypedResults.Created((string?)null, new RegisterResponse(User.NewId(), email));
    }

    internal static async Task<IResult> GetAccountAsync(ClaimsPrincipal principal, AuthDbContext db, CancellationToken cancellationToken)
    {
        var sub = PlatformClaims.SubjectOf(principal)!;
        // A deleted or disabled account whose token is still in its last seconds: its revocation is on the way.
        if (await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == sub, cancellationToken) is not { IsDisabled: false } user)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized.");
        }
        var roleIds = await db.UserRoles.Where(r => r.UserId == sub).Select(r => r.RoleId).ToListAsync(cancellationToken);
        var mfaEnabled = await db.TotpAuthenticators.AnyAsync(t => t.UserId == sub && t.ConfirmedAt != null, cancellationToken);
        var logins = await db.UserLogins.Where(l => l.UserId == sub).OrderBy(l => l.LoginProvider)
            .Select(l => new ExternalAccountsApi.ExternalLogin(l.LoginProvider, l.ProviderDisplayName)).ToListAsync(cancellationToken);
        var summary = UserAdministration.Summary(user, roleIds, mfaEnabled);
        return TypedResults.Ok(new AccountResponse(
            user.Id, user.Email, user.EmailConfirmed, user.CreatedAt, user.LastLoginAt, summary.Roles, summary.MfaEnabled,
            user.PasswordHash is not null, summary.PasswordChangeRequired, logins));
    }

    internal static Ok<PasswordPolicyResponse> GetPasswordPolicy(PasswordPolicy policy) => TypedResults.Ok(new PasswordPolicyResponse(
        MinLength: PasswordPolicy.MinLength,
        MaxLength: PasswordPolicy.MaxLength,
        LengthUnit: "unicodeCodePoint",
        Normalization: "none",
        CompositionRules: false,
        CommonPasswordCount: policy.CommonPasswordCount,
        EmailPartMinLength: PasswordPolicy.MinEmailPartLength,
        EmailWordMinLength: PasswordPolicy.MinEmailWordLength,
        ServiceWords: PasswordPolicy.ServiceWords,
        Checks:
        [
            new(PasswordPolicy.Rules.MinLength, $"At least {PasswordPolicy.MinLength} characters (Unicode code points)."),
            new(PasswordPolicy.Rules.MaxLength, $"At most {PasswordPolicy.MaxLength} characters (Unicode code points)."),
            new(PasswordPolicy.Rules.Characters, "No control characters. Spaces and every other Unicode character are allowed; the password is used exactly as typed."),
            new(PasswordPolicy.Rules.Common, $"Not one of {policy.CommonPasswordCount} common/breached passwords, nor one of them with digits or symbols added before or after, nor a repeated short or common unit, nor a straight run such as abcdefghijkl."),
            new(PasswordPolicy.Rules.ServiceName, "Does not contain the name of this service."),
            new(PasswordPolicy.Rules.EmailSimilarity, $"Does not contain the email address, its local part ({PasswordPolicy.MinEmailPartLength}+ characters) forwards or reversed, or any word of {PasswordPolicy.MinEmailWordLength}+ characters of the local part or of the domain (case and separators ignored)."),
            new(PasswordPolicy.Rules.Reused, "On change: differs from the current password."),
        ]));

    /// <summary>What a new password must be on every change (the policy, and not the current one), under <c>newPassword</c>.</summary>
    internal static void AddNewPasswordProblems(FieldErrors errors, PasswordPolicy policy, string? newPassword, string? currentPassword, string? email)
    {
        foreach (var violation in policy.Check(newPassword, email))
        {
            errors.Add("newPassword", violation.Rule, violation.Message);
        }
        if (string.Equals(newPassword, currentPassword, StringComparison.Ordinal))
        {
            errors.Add("newPassword", PasswordPolicy.Rules.Reused, "The new password must differ from the current one.");
        }
    }

    internal static async Task<IResult> ChangePasswordAsync(
        ChangePasswordRequest request, ClaimsPrincipal principal, HttpContext http, [AsParameters] AccountServices services, CancellationToken cancellationToken)
    {
        // Both passwords are there (ChangePasswordRequestValidator); the rest needs the account.
        var errors = new FieldErrors();

        var sub = PlatformClaims.SubjectOf(principal)!;
        var sid = PlatformClaims.SessionOf(principal);
        var user = await services.Users.FindByIdAsync(sub);
        if (user is null || user.IsDisabled || user.PasswordHash is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized.");
        }
        if (services.Hasher.VerifyHashedPassword(user, user.PasswordHash, request.CurrentPassword!) == PasswordVerificationResult.Failed)
        {
            errors.Add("currentPassword", "incorrect", "The current password is incorrect.");
            return errors.ToResult();
        }
        AddNewPasswordProblems(errors, services.Policy, request.NewPassword, request.CurrentPassword, user.Email);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        // New hash, new security stamp and the PasswordChanged event: one SaveChanges, one transaction.
        user.PasswordHash = services.Hasher.HashPassword(user, request.NewPassword!);
        user.SecurityStamp = Guid.NewGuid().ToString("N");
        services.Db.AddIntegrationEvent(AuthEvents.Create<PasswordChanged>(http, actor: sub, subject: sub) with { KeptSessionId = sid });
        var updated = await services.Users.UpdateAsync(user);
        if (!updated.Succeeded)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The account changed meanwhile.", detail: "Retry the request.");
        }

        // Make it immediate: token-service ends every other session now. Should that call fail, the
        // PasswordChanged event makes token-service do it when it consumes the event.
        if (!await services.Tokens.RevokeOtherSessionsAsync(http.Request.Headers.Authorization.ToString(), CancellationToken.None))
        {
            LogOtherSessionsNotRevoked(services.Logger, sub);
        }
        return TypedResults.NoContent();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Account {UserId} registered")]
    private static partial void LogRegistered(ILogger logger, string userId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Registration for an address that already has an account: answered as new, no account created")]
    private static partial void LogDuplicateRegistration(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Password of {UserId} changed but token-service did not confirm ending the other sessions; the PasswordChanged event will")]
    private static partial void LogOtherSessionsNotRevoked(ILogger logger, string userId);
}

/// <summary>The body limit of every auth-service endpoint.</summary>
public static class AuthBodies
{
    /// <summary>An email, a 128-character password of 4-byte characters, escapes and a client id fit many times over; checked before any work such as Argon2 runs.</summary>
    public const int MaxBytes = 8 * 1024;
}

/// <summary>Registration: the address (<see cref="EmailAddress"/>) and the password policy, which needs the normalised address.</summary>
public sealed class RegisterRequestValidator : AbstractValidator<AccountApi.RegisterRequest>
{
    public RegisterRequestValidator(PasswordPolicy policy) => RuleFor(r => r).Custom((request, context) =>
    {
        if (!EmailAddress.TryNormalize(request.Email, out var email, out var violation))
        {
            context.AddFailure(RuleBuilderExtensions.Failure("email", violation.Rule, violation.Message));
        }
        foreach (var rule in policy.Check(request.Password, email))
        {
            context.AddFailure(RuleBuilderExtensions.Failure("password", rule.Rule, rule.Message));
        }
    });
}

/// <summary>A password change names both passwords; whether they are right needs the account (the handler).</summary>
public sealed class ChangePasswordRequestValidator : AbstractValidator<AccountApi.ChangePasswordRequest>
{
    public ChangePasswordRequestValidator()
    {
        RuleFor(r => r.CurrentPassword).NotEmpty().WithErrorCode(PasswordPolicy.Rules.Required).WithMessage("The current password is required.");
        RuleFor(r => r.NewPassword).NotEmpty().WithErrorCode(PasswordPolicy.Rules.Required).WithMessage("A new password is required.");
    }
}

/// <summary>What the account handlers need (eShop's <c>[AsParameters]</c> services pattern).</summary>
public sealed class AccountServices(
    UserManager<User> users,
    AuthDbContext db,
    IPasswordHasher<User> hasher,
    PasswordPolicy policy,
    TokenServiceClient tokens,
    ILogger<AccountServices> logger)
{
    public UserManager<User> Users { get; } = users;

    public AuthDbContext Db { get; } = db;

    public IPasswordHasher<User> Hasher { get; } = hasher;

    public PasswordPolicy Policy { get; } = policy;

    public TokenServiceClient Tokens { get; } = tokens;

    public ILogger<AccountServices> Logger { get; } = logger;
}
