using System.Security.Claims;
using FluentValidation;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.Model;
using SecurePlatform.Auth.Services;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.Auth.Apis;

/// <summary>
/// User administration: search and read accounts; disable, enable, set roles, reset MFA, require a password change,
/// delete. Every route needs the admin policy (admin role and <c>mfa</c> in <c>amr</c>); every change also a recent
/// sign-in, runs under the last-administrator rule (<see cref="UserAdministration"/>) and is audited with actor,
/// target, before and after. Changes that must end the user's sessions end them at token-service at once, with the
/// administrator's own token; their event makes token-service do it again should that call fail.
/// </summary>
public static partial class AdminUsersApi
{
    public sealed record AdminUserResponse(
        string Id,
        string? Email,
        bool EmailConfirmed,
        IReadOnlyList<string> Roles,
        string State,
        bool MfaEnabled,
        bool PasswordChangeRequired,
        DateTimeOffset CreatedAt,
        DateTimeOffset? LastLoginAt,
        DateTimeOffset? DisabledAt);

    public sealed record UserPage(IReadOnlyList<AdminUserResponse> Items, string? NextCursor);

    public sealed record DisableUserRequest(string? Reason);

    public sealed record SetRolesRequest(IReadOnlyList<string>? Roles);

    public static IEndpointRouteBuilder MapAdminUsersApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/admin/users").WithTags("Users (admin)").RequireAuthorization(PlatformClaims.AdminPolicy).WithValidation();
        admin.MapGet("/", ListAsync).WithName("ListUsers")
            .WithSummary("Accounts by id (creation order), filtered by email prefix, role and state (active, disabled); cursor paging.")
            .Produces<UserPage>().ProducesValidationProblem();
        admin.MapGet("/{sub}", GetAsync).WithName("GetUser").WithSummary("One account.")
            .Produces<AdminUserResponse>().ProducesProblem(StatusCodes.Status404NotFound);

        var change = admin.MapGroup("/{sub}").RequireRecentAuthentication()
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        change.MapPost("/disable", DisableAsync).WithName("DisableUser")
            .WithSummary("Disables the account: no sign-in path lets it in, and every session ends at once.")
            .Accepts<DisableUserRequest>(isOptional: true, "application/json").Produces<AdminUserResponse>();
        change.MapPost("/enable", EnableAsync).WithName("EnableUser").WithSummary("Enables a disabled account again.").Produces<AdminUserResponse>();
        change.MapPut("/roles", SetRolesAsync).WithName("SetUserRoles")
            .WithSummary("Replaces the account's roles; its sessions end so that new tokens carry the new roles.").Produces<AdminUserResponse>();
        change.MapDelete("/mfa", ResetMfaAsync).WithName("ResetUserMfa")
            .WithSummary("Removes the authenticator and recovery codes (a lost phone); the user's sessions end. An administrator must enrol again before admin routes open.")
            .Produces<AdminUserResponse>().ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        change.MapPost("/require-password-change", RequirePasswordChangeAsync).WithName("RequireUserPasswordChange")
            .WithSummary("The next sign-in answers 403 password_change_required until the user sets a new password with POST /auth/password/expired; the user's sessions end.")
            .Produces<AdminUserResponse>();
        change.MapDelete("/", DeleteAsync).WithName("DeleteUser")
            .WithSummary("Deletes the account and its credentials; sessions end; UserDeleted makes profile-service erase the profile.")
            .Produces(StatusCodes.Status204NoContent);
        return app;
    }

    internal static async Task<IResult> ListAsync(
        AuthDbContext db, string? email, string? role, string? state, string? cursor, string? limit, CancellationToken cancellationToken)
    {
        var (query, errors) = UserAdministrationRules.ParseQuery(email, role, state, cursor, limit);
        if (query is null)
        {
            return errors.ToResult();
        }
        var users = db.Users.AsNoTracking();
        if (query.EmailPrefix is { } prefix)
        {
            // NormalizedEmail is Identity's upper-cased form; StartsWith becomes LIKE with the pattern characters escaped.
            var normalized = prefix.ToUpperInvariant();
            users = users.Where(u => u.NormalizedEmail!.StartsWith(normalized));
        }
        if (query.Role is { } roleName)
        {
            var roleId = roleName == RoleNames.Admin ? RoleNames.AdminRoleId : RoleNames.UserRoleId;
            users = users.Where(u => db.UserRoles.Any(r => r.UserId == u.Id && r.RoleId == roleId));
        }
        users = query.State switch
        {
            UserState.Active => users.Where(u => u.DisabledAt == null),
            UserState.Disabled => users.Where(u => u.DisabledAt != null),
            _ => users,
        };
        if (query.After is { } after)
        {
            users = users.Where(u => string.Compare(u.Id, after) > 0);
        }
        var page = await users.OrderBy(u => u.Id).Take(query.Limit + 1).ToListAsync(cancellationToken);
        var more = page.Count > query.Limit;
        if (more)
        {
            page.RemoveAt(page.Count - 1);
        }
        var items = await ResponsesAsync(db, page, cancellationToken);
        return TypedResults.Ok(new UserPage(items, more ? UserAdministrationRules.Cursor(page[^1].Id) : null));
    }

    internal static async Task<IResult> GetAsync(string sub, AuthDbContext db, CancellationToken cancellationToken) =>
        await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == sub, cancellationToken) is { } user
            ? TypedResults.Ok((await ResponsesAsync(db, [user], cancellationToken))[0])
            : UnknownUser();

    internal static async Task<IResult> DisableAsync(string sub, DisableUserRequest? body, ClaimsPrincipal principal, HttpContext http, [AsParameters] AdminUsersServices services, CancellationToken cancellationToken) =>
        await AnswerAsync(http, services, await services.Users.DisableAsync(sub, body?.Reason, http, Actor(principal), cancellationToken), endsSessions: true, cancellationToken);

    internal static async Task<IResult> EnableAsync(string sub, ClaimsPrincipal principal, HttpContext http, [AsParameters] AdminUsersServices services, CancellationToken cancellationToken) =>
        await AnswerAsync(http, services, await services.Users.EnableAsync(sub, http, Actor(principal), cancellationToken), endsSessions: false, cancellationToken);

    internal static async Task<IResult> SetRolesAsync(string sub, SetRolesRequest body, ClaimsPrincipal principal, HttpContext http, [AsParameters] AdminUsersServices services, CancellationToken cancellationToken) =>
        await AnswerAsync(http, services, await services.Users.SetRolesAsync(sub, body.Roles!.ToArray(), http, Actor(principal), cancellationToken), endsSessions: true, cancellationToken);

    internal static async Task<IResult> ResetMfaAsync(string sub, ClaimsPrincipal principal, HttpContext http, [AsParameters] AdminUsersServices services, CancellationToken cancellationToken) =>
        await AnswerAsync(http, services, await services.Users.ResetMfaAsync(sub, http, Actor(principal), cancellationToken), endsSessions: true, cancellationToken, eventEndsSessions: false);

    internal static async Task<IResult> RequirePasswordChangeAsync(string sub, ClaimsPrincipal principal, HttpContext http, [AsParameters] AdminUsersServices services, CancellationToken cancellationToken) =>
        await AnswerAsync(http, services, await services.Users.RequirePasswordChangeAsync(sub, http, Actor(principal), cancellationToken), endsSessions: true, cancellationToken);

    internal static async Task<IResult> DeleteAsync(string sub, ClaimsPrincipal principal, HttpContext http, [AsParameters] AdminUsersServices services, CancellationToken cancellationToken) =>
        await AnswerAsync(http, services, await services.Users.DeleteAsync(sub, http, Actor(principal), cancellationToken), endsSessions: true, cancellationToken);

    /// <param name="eventEndsSessions">token-service consumes the change's event and ends the sessions itself should the direct call fail.</param>
    private static async Task<IResult> AnswerAsync(
        HttpContext http, AdminUsersServices services, AdminChangeResult result, bool endsSessions, CancellationToken cancellationToken, bool eventEndsSessions = true)
    {
        if (result is AdminChangeResult.NotFound)
        {
            return UnknownUser();
        }
        if (result is AdminChangeResult.LastAdministrator)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The last administrator cannot lose the role.",
                detail: "Grant the admin role to another enabled account first: the platform keeps at least one administrator.",
                extensions: new Dictionary<string, object?> { ["reason"] = "last_administrator" });
        }
        var (user, _, after) = (AdminChangeResult.Done)result;
        if (endsSessions && ((AdminChangeResult.Done)result).Changed
            && !await services.Tokens.RevokeUserSessionsAsync(user.Id, http.Request.Headers.Authorization.ToString(), CancellationToken.None))
        {
            LogSessionsNotRevoked(services.Logger, user.Id);
            if (!eventEndsSessions)
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "The change is saved, but the user's sessions could not be ended.",
                    detail: $"End them with DELETE /admin/users/{user.Id}/sessions at token-service.");
            }
        }
        if (after is null)
        {
            return TypedResults.NoContent();
        }
        return TypedResults.Ok(Response(user, after));
    }

    private static async Task<List<AdminUserResponse>> ResponsesAsync(AuthDbContext db, List<User> users, CancellationToken cancellationToken)
    {
        var ids = users.Select(u => u.Id).ToList();
        var roles = (await db.UserRoles.Where(r => ids.Contains(r.UserId)).ToListAsync(cancellationToken)).ToLookup(r => r.UserId, r => r.RoleId);
        var mfa = (await db.TotpAuthenticators.Where(t => ids.Contains(t.UserId) && t.ConfirmedAt != null).Select(t => t.UserId).ToListAsync(cancellationToken)).ToHashSet();
        return [.. users.Select(u => Response(u, UserAdministration.Summary(u, roles[u.Id], mfa.Contains(u.Id))))];
    }

    private static AdminUserResponse Response(User user, UserSummary summary) => new(
        user.Id, user.Email, user.EmailConfirmed, summary.Roles, summary.Disabled ? "disabled" : "active", summary.MfaEnabled,
        summary.PasswordChangeRequired, user.CreatedAt, user.LastLoginAt, user.DisabledAt);

    private static string Actor(ClaimsPrincipal principal) => PlatformClaims.SubjectOf(principal)!;

    private static IResult UnknownUser() => TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such user.");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Account {UserId} changed by an administrator but token-service did not confirm ending its sessions")]
    private static partial void LogSessionsNotRevoked(ILogger logger, string userId);
}

/// <summary>What the admin users handlers need.</summary>
public sealed class AdminUsersServices(UserAdministration users, TokenServiceClient tokens, ILogger<AdminUsersServices> logger)
{
    public UserAdministration Users { get; } = users;

    public TokenServiceClient Tokens { get; } = tokens;

    public ILogger<AdminUsersServices> Logger { get; } = logger;
}

public sealed class DisableUserRequestValidator : AbstractValidator<AdminUsersApi.DisableUserRequest>
{
    public const int ReasonMaxLength = 200;

    public DisableUserRequestValidator() => RuleFor(r => r.Reason).PlatformText(ReasonMaxLength, required: false);
}

public sealed class SetRolesRequestValidator : AbstractValidator<AdminUsersApi.SetRolesRequest>
{
    public SetRolesRequestValidator()
    {
        RuleFor(r => r.Roles).NotNull().WithErrorCode("required").WithMessage("The roles are required (an empty list removes every role).");
        RuleFor(r => r.Roles).Custom((roles, context) =>
        {
            if (roles is null)
            {
                return;
            }
            for (var i = 0; i < roles.Count; i++)
            {
                if (!UserAdministrationRules.KnownRoles.Contains(roles[i], StringComparer.Ordinal))
                {
                    context.AddFailure(RuleBuilderExtensions.Failure($"{context.PropertyPath}[{i}]", "unknownRole", $"The role is one of: {string.Join(", ", UserAdministrationRules.KnownRoles)}."));
                }
            }
            if (roles.Distinct(StringComparer.Ordinal).Count() != roles.Count)
            {
                context.AddFailure(RuleBuilderExtensions.Failure(context.PropertyPath, "duplicate", "Each role is listed once."));
            }
        });
    }
}
