using System.Security.Claims;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using QRCoder;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.IntegrationEvents;
using SecurePlatform.Auth.Model;
using SecurePlatform.Auth.Services;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.RateLimiting;

using Microsoft.AspNetCore.Mvc;
using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.Auth.Apis;

/// <summary>
/// TOTP enrolment and management for the signed-in user. Enrolment needs only a signed-in user (an administrator
/// without MFA has a session without the admin role, and this is what it may do); disabling and regenerating recovery
/// codes need a valid code of the active authenticator, checked and throttled like a sign-in.
/// </summary>
public static partial class MfaApi
{
    public sealed record EnrolmentResponse(string Secret, string OtpAuthUri, string QrCodePng);

    public sealed record ConfirmRequest(string? Code);

    public sealed record CodeRequest(string? Code, string? RecoveryCode);

    public sealed record RecoveryCodesResponse(IReadOnlyList<string> RecoveryCodes);

    public static IEndpointRouteBuilder MapMfaApi(this IEndpointRouteBuilder app)
    {
        var mfa = app.MapGroup("/auth/mfa").WithTags("MFA").RequireAuthorization().RequireRateLimit(RateLimitPolicies.PasswordChange).WithRequestBodyLimit(AuthBodies.MaxBytes);
        mfa.MapPost("/totp", BeginAsync)
            .WithName("BeginTotpEnrolment")
            .WithSummary("Starts (or restarts) TOTP enrolment: a new secret, its otpauth:// URI and a QR code (PNG data URI). Inactive until confirmed.")
            .Produces<EnrolmentResponse>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        mfa.MapPost("/totp/confirm", ConfirmAsync)
            .WithName("ConfirmTotpEnrolment")
            .WithSummary("Activates the pending authenticator with its first valid code; returns ten single-use recovery codes, shown once.")
            .Accepts<ConfirmRequest>("application/json")
            .Produces<RecoveryCodesResponse>(StatusCodes.Status200OK)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        mfa.MapDelete("/totp", DisableAsync)
            .RequireRecentAuthentication()
            .WithName("DisableTotp")
            .WithSummary("Removes the authenticator and the recovery codes (a valid code or recovery code is required) and ends the caller's other sessions.")
            .Accepts<CodeRequest>("application/json")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        mfa.MapPost("/recovery-codes", RegenerateRecoveryCodesAsync)
            .RequireRecentAuthentication()
            .WithName("RegenerateRecoveryCodes")
            .WithSummary("Replaces every recovery code with ten new ones (a valid TOTP code is required).")
            .Accepts<CodeRequest>("application/json")
            .Produces<RecoveryCodesResponse>(StatusCodes.Status200OK)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        return app;
    }

    internal static async Task<IResult> BeginAsync(ClaimsPrincipal principal, HttpContext http, [AsParameters] MfaServices services, CancellationToken cancellationToken)
    {
        if (await CallerAsync(principal, services) is not { } user)
        {
            return Unauthorized();
        }
        var existing = await services.Db.TotpAuthenticators.SingleOrDefaultAsync(t => t.UserId == user.Id, cancellationToken);
        if (existing is { IsActive: true })
        {
            return AlreadyEnabled();
        }
        var secret = TotpRules.NewSecret();
        var uri = TotpRules.OtpAuthUri(secret, user.Email ?? user.Id);
        if (existing is null)
        {
            services.Db.TotpAuthenticators.Add(new TotpAuthenticator { UserId = user.Id, ProtectedSecret = services.Secrets.Protect(secret) });
        }
        else
        {
            existing.ProtectedSecret = services.Secrets.Protect(secret);
            existing.CreatedAt = DateTimeOffset.UtcNow;
            existing.LastUsedStep = null;
        }
        await services.Db.SaveChangesAsync(cancellationToken);
        NoStore(http);
        return TypedResults.Ok(new EnrolmentResponse(secret, uri, "data:image/png;base64," + Convert.ToBase64String(QrPng(uri))));
    }

    internal static async Task<IResult> ConfirmAsync(ConfirmRequest request, ClaimsPrincipal principal, HttpContext http, [AsParameters] MfaServices services, CancellationToken cancellationToken)
    {
        if (await CallerAsync(principal, services) is not { } user)
        {
            return Unauthorized();
        }
        var pending = await services.Db.TotpAuthenticators.SingleOrDefaultAsync(t => t.UserId == user.Id, cancellationToken);
        if (pending is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "No enrolment is in progress.", detail: "Start one with POST /auth/mfa/totp.");
        }
        if (pending.IsActive)
        {
            return AlreadyEnabled();
        }
        if (TotpRules.Verify(services.Secrets.Unprotect(pending.ProtectedSecret), request.Code, services.SecondFactor.Now, pending.LastUsedStep) is not { } step)
        {
            return WrongCode("code");
        }
        pending.ConfirmedAt = DateTimeOffset.UtcNow;
        pending.LastUsedStep = step;
        var codes = ReplaceRecoveryCodes(services.Db, user.Id);
        services.Db.AddIntegrationEvent(AuthEvents.Create<MfaEnabled>(http, actor: user.Id, subject: user.Id));
        await services.Db.SaveChangesAsync(CancellationToken.None);
        NoStore(http);
        return TypedResults.Ok(new RecoveryCodesResponse(codes));
    }

    internal static async Task<IResult> DisableAsync([FromBody] CodeRequest request, ClaimsPrincipal principal, HttpContext http, [AsParameters] MfaServices services, CancellationToken cancellationToken)
    {
        if (await CallerAsync(principal, services) is not { } user)
        {
            return Unauthorized();
        }
        if (await VerifyAsync(http, services, user, request, allowRecoveryCode: true, cancellationToken) is { } refused)
        {
            return refused;
        }
        await services.Db.TotpAuthenticators.Where(t => t.UserId == user.Id).ExecuteDeleteAsync(cancellationToken);
        await services.Db.RecoveryCodes.Where(c => c.UserId == user.Id).ExecuteDeleteAsync(cancellationToken);
        services.Db.AddIntegrationEvent(AuthEvents.Create<MfaDisabled>(http, actor: user.Id, subject: user.Id));
        await services.Db.SaveChangesAsync(CancellationToken.None);

        // A second factor less: whoever else holds a session of this user loses it now.
        if (!await services.Tokens.RevokeOtherSessionsAsync(http.Request.Headers.Authorization.ToString(), CancellationToken.None))
        {
            LogOtherSessionsNotRevoked(services.Logger, user.Id);
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "MFA is disabled, but other sessions could not be ended.",
                detail: "Sign out everywhere (DELETE /sessions at token-service) to end them.");
        }
        return TypedResults.NoContent();
    }

    internal static async Task<IResult> RegenerateRecoveryCodesAsync(CodeRequest request, ClaimsPrincipal principal, HttpContext http, [AsParameters] MfaServices services, CancellationToken cancellationToken)
    {
        if (await CallerAsync(principal, services) is not { } user)
        {
            return Unauthorized();
        }
        if (await VerifyAsync(http, services, user, request, allowRecoveryCode: false, cancellationToken) is { } refused)
        {
            return refused;
        }
        await services.Db.RecoveryCodes.Where(c => c.UserId == user.Id).ExecuteDeleteAsync(cancellationToken);
        var codes = ReplaceRecoveryCodes(services.Db, user.Id);
        await services.Db.SaveChangesAsync(CancellationToken.None);
        NoStore(http);
        return TypedResults.Ok(new RecoveryCodesResponse(codes));
    }

    /// <summary>Null when the active authenticator accepted the code; the refusal otherwise.</summary>
    private static async Task<IResult?> VerifyAsync(HttpContext http, MfaServices services, User user, CodeRequest request, bool allowRecoveryCode, CancellationToken cancellationToken)
    {
        if (!await services.SecondFactor.IsEnabledAsync(user.Id, cancellationToken))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "MFA is not enabled.", detail: "Enrol with POST /auth/mfa/totp first.");
        }
        var hasCode = !string.IsNullOrEmpty(request.Code);
        var hasRecovery = allowRecoveryCode && !string.IsNullOrEmpty(request.RecoveryCode);
        if (hasCode == hasRecovery || request.Code is { Length: > 16 } || request.RecoveryCode is { Length: > 32 })
        {
            return FieldErrors.One("code", "required", allowRecoveryCode ? "Exactly one of code and recoveryCode is required." : "The code of the authenticator app is required.");
        }
        var result = await services.SecondFactor.CheckAsync(
            new SecondFactorRequest(user, request.Code, hasRecovery ? request.RecoveryCode : null, http.Connection.RemoteIpAddress, EventStamping.UserAgent(http)), cancellationToken);
        return result switch
        {
            SecondFactorResult.Verified => null,
            SecondFactorResult.Throttled throttled => RateLimitRejection.Result(throttled.Policy, throttled.ClientPartition, throttled.RetryAfter),
            _ => WrongCode(hasCode ? "code" : "recoveryCode"),
        };
    }

    private static string[] ReplaceRecoveryCodes(AuthDbContext db, string userId)
    {
        var codes = RecoveryCodeRules.Generate();
        db.RecoveryCodes.AddRange(codes.Select(c => new RecoveryCode { UserId = userId, Hash = RecoveryCodeRules.Hash(c)! }));
        return codes;
    }

    internal static byte[] QrPng(string uri)
    {
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(uri, QRCodeGenerator.ECCLevel.M);
        return new PngByteQRCode(data).GetGraphic(5);
    }

    private static async Task<User?> CallerAsync(ClaimsPrincipal principal, MfaServices services) =>
        PlatformClaims.SubjectOf(principal) is { } sub && await services.Users.FindByIdAsync(sub) is { IsDisabled: false } user ? user : null;

    private static void NoStore(HttpContext http)
    {
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.Pragma = "no-cache";
    }

    private static IResult Unauthorized() => TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized.");

    private static IResult AlreadyEnabled() => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "MFA is already enabled.",
        detail: "Disable it first (DELETE /auth/mfa/totp) to enrol another authenticator.");

    private static IResult WrongCode(string field)
    {
        return FieldErrors.One(field, "invalid", "The code is not valid (wrong, expired or already used).");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "MFA of {UserId} disabled but token-service did not confirm ending the other sessions")]
    private static partial void LogOtherSessionsNotRevoked(ILogger logger, string userId);
}

/// <summary>What the MFA handlers need.</summary>
public sealed class MfaServices(
    UserManager<User> users,
    AuthDbContext db,
    TotpSecretProtector secrets,
    SecondFactorCheck secondFactor,
    TokenServiceClient tokens,
    ILogger<MfaServices> logger)
{
    public UserManager<User> Users { get; } = users;

    public AuthDbContext Db { get; } = db;

    public TotpSecretProtector Secrets { get; } = secrets;

    public SecondFactorCheck SecondFactor { get; } = secondFactor;

    public TokenServiceClient Tokens { get; } = tokens;

    public ILogger<MfaServices> Logger { get; } = logger;
}
