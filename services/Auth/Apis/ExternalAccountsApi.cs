using System.Net;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.IntegrationEvents;
using SecurePlatform.Auth.Model;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;

using FluentValidation;
using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.Auth.Apis;

/// <summary>
/// External sign-in, for token-service only (same back-channel policy as the credential check): token-service's
/// OpenIddict client has validated the provider's answer and says who the provider vouches for. Accounts are found by
/// (provider, provider subject) alone. A matching email never links: that would hand an account to whoever controls an
/// address at some provider. The user links after proving the local password, or while signed in.
/// </summary>
public static class ExternalAccountsApi
{
    public const string LinkRequired = "link_required";
    public const string AlreadyLinked = "already_linked";
    public const string RegistrationClosed = "registration_closed";
    public const string NoVerifiedEmail = "no_verified_email";
    public const string LastSignInMethod = "last_sign_in_method";

    /// <param name="LinkToSubject">The account the login is to be linked to: the signed-in user who asked for it, or the user who just proved the password after <see cref="LinkRequired"/>.</param>
    public sealed record ExternalSignInRequest(
        string? Provider, string? ProviderSubject, string? Email, bool EmailVerified, string? ClientId, string? ClientIp, string? UserAgent, string? LinkToSubject);

    public sealed record ExternalLogin(string Provider, string? DisplayName);

    public sealed record LinksResponse(IReadOnlyList<ExternalLogin> Logins, bool HasPassword);

    /// <summary>amr of an external sign-in (RFC 8176 has no value for it; <c>fed</c> is what federations use).</summary>
    public static readonly string[] Federated = ["fed"];

    public static readonly string[] FederatedAndOtp = ["fed", "otp", "mfa"];

    public static IEndpointRouteBuilder MapExternalAccountsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").WithTags("Back channel").RequireAuthorization(CredentialsApi.TokenServicePolicy)
            .WithRequestBodyLimit(AuthBodies.MaxBytes).WithValidation();
        group.MapPost(Protocol.CredentialCheck.ExternalPath, SignInAsync)
            .WithSummary("token-service's external sign-in: the account of (provider, provider subject), created or linked as the request says.")
            .Accepts<ExternalSignInRequest>("application/json")
            .Produces<CredentialsApi.VerifiedUser>(StatusCodes.Status200OK)
            .Produces<SessionApi.MfaChallenge>(StatusCodes.Status200OK)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status409Conflict);
        group.MapGet(Protocol.CredentialCheck.LinksPath + "/{sub}", ListAsync)
            .WithSummary("The external sign-ins linked to an account, and whether it has a password.")
            .Produces<LinksResponse>();
        group.MapDelete(Protocol.CredentialCheck.LinksPath + "/{sub}/{provider}", UnlinkAsync)
            .WithSummary("Removes one external sign-in; refused when it is the account's last way to sign in.")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    internal static async Task<IResult> SignInAsync(
        ExternalSignInRequest request, HttpContext http, [AsParameters] LoginServices services, IOptions<RegistrationOptions> registration, CancellationToken cancellationToken)
    {
        // Validated already (ExternalSignInRequestValidator).
        var browser = IPAddress.TryParse(request.ClientIp, out var address) ? address : http.Connection.RemoteIpAddress;
        http.Connection.RemoteIpAddress = browser;
        http.Request.Headers.UserAgent = EventStamping.Truncate(request.UserAgent) ?? "";
        var provider = request.Provider!;
        var providerSubject = request.ProviderSubject!;

        var owner = await services.Users.FindByLoginAsync(provider, providerSubject);
        if (request.LinkToSubject is { } linkTo)
        {
            var target = await services.Users.FindByIdAsync(linkTo);
            if (target is null || target.IsDisabled)
            {
                return SessionApi.InvalidCredentials();
            }
            if (owner is not null && owner.Id != target.Id)
            {
                return Conflict(AlreadyLinked, "This external account already signs in to another account here.");
            }
            if (owner is null)
            {
                services.Db.AddIntegrationEvent(AuthEvents.Create<ExternalLoginLinked>(http, actor: target.Id, subject: target.Id) with { Provider = provider });
                // Identity saves the link and the tracked outbox row in one SaveChanges (one transaction).
                var added = await services.Users.AddLoginAsync(target, new UserLoginInfo(provider, providerSubject, provider));
                if (!added.Succeeded)
                {
                    return Conflict(AlreadyLinked, "This external account already signs in to another account here.");
                }
            }
            // token-service authenticated this user already (signed in, or password and code just now): the link is
            // the whole act, no second factor is asked again and no sign-in is recorded.
            http.Response.Headers.CacheControl = "no-store";
            return TypedResults.Ok(new CredentialsApi.VerifiedUser(target.Id, Federated, [], target.Email, target.EmailConfirmed));
        }

        if (owner is not null)
        {
            return owner.IsDisabled ? SessionApi.InvalidCredentials() : await SignedInAsync(http, services, owner, request.ClientId);
        }
        if (!EmailAddress.TryNormalize(request.Email, out var email, out _) || !request.EmailVerified)
        {
            return Refuse(NoVerifiedEmail, "The provider did not confirm an email address for this account.");
        }
        if (await services.Users.FindByEmailAsync(email!) is not null)
        {
            // Same address, other credentials: the owner of the local account proves the password, then links.
            return Conflict(LinkRequired, "An account with this email address exists. Sign in with its password to link the external account.");
        }
        if (!registration.Value.Open)
        {
            return Refuse(RegistrationClosed, "New accounts cannot be created here.");
        }
        var user = new User
        {
            UserName = email,
            NormalizedUserName = services.Users.NormalizeName(email),
            Email = email,
            NormalizedEmail = services.Users.NormalizeEmail(email),
            // The provider confirmed it; the account has no password until the user sets one.
            EmailConfirmed = true,
        };
        services.Db.Users.Add(user);
        services.Db.UserRoles.Add(new IdentityUserRole<string> { UserId = user.Id, RoleId = RoleNames.UserRoleId });
        services.Db.UserLogins.Add(new IdentityUserLogin<string> { LoginProvider = provider, ProviderKey = providerSubject, ProviderDisplayName = provider, UserId = user.Id });
        services.Db.AddIntegrationEvent(AuthEvents.Create<UserRegistered>(http, actor: user.Id, subject: user.Id));
        services.Db.AddIntegrationEvent(AuthEvents.Create<ExternalLoginLinked>(http, actor: user.Id, subject: user.Id) with { Provider = provider });
        try
        {
            await services.Db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // The same first sign-in twice at once (the login's key), or the address registered meanwhile.
            services.Db.ChangeTracker.Clear();
            return await services.Users.FindByLoginAsync(provider, providerSubject) is { IsDisabled: false } raced
                ? await SignedInAsync(http, services, raced, request.ClientId)
                : Conflict(LinkRequired, "An account with this email address exists. Sign in with its password to link the external account.");
        }
        return await SignedInAsync(http, services, user, request.ClientId);
    }

    internal static async Task<IResult> ListAsync(string sub, UserManager<User> users)
    {
        if (await users.FindByIdAsync(sub) is not { } user)
        {
            return TypedResults.NotFound();
        }
        var logins = await users.GetLoginsAsync(user);
        return TypedResults.Ok(new LinksResponse(
            [.. logins.OrderBy(l => l.LoginProvider, StringComparer.Ordinal).Select(l => new ExternalLogin(l.LoginProvider, l.ProviderDisplayName))],
            user.PasswordHash is not null));
    }

    internal static async Task<IResult> UnlinkAsync(HttpContext http, string sub, string provider, UserManager<User> users, AuthDbContext db)
    {
        if (await users.FindByIdAsync(sub) is not { } user)
        {
            return TypedResults.NotFound();
        }
        var logins = await users.GetLoginsAsync(user);
        if (logins.FirstOrDefault(l => l.LoginProvider == provider) is not { } login)
        {
            return TypedResults.NotFound();
        }
        if (user.PasswordHash is null && logins.Count == 1)
        {
            return Conflict(LastSignInMethod, "This is the account's only way to sign in. Set a password or link another provider first.");
        }
        db.AddIntegrationEvent(AuthEvents.Create<ExternalLoginUnlinked>(http, actor: user.Id, subject: user.Id) with { Provider = provider });
        var removed = await users.RemoveLoginAsync(user, login.LoginProvider, login.ProviderKey);
        return removed.Succeeded ? TypedResults.NoContent() : TypedResults.NotFound();
    }

    /// <summary>The provider's sign-in counts as the first factor; an enrolled TOTP is still asked for.</summary>
    private static async Task<IResult> SignedInAsync(HttpContext http, LoginServices services, User user, string? clientId)
    {
        http.Response.Headers.CacheControl = "no-store";
        if (await services.Db.TotpAuthenticators.AnyAsync(t => t.UserId == user.Id && t.ConfirmedAt != null))
        {
            var ticket = await services.Tickets.IssueAsync(user.Id, new MfaTicketPayload(MfaTicketChannel.HostedExternal, clientId, false, null), CancellationToken.None);
            return TypedResults.Ok(new SessionApi.MfaChallenge(true, ticket, (int)MfaTickets.Lifetime.TotalSeconds));
        }
        return await CredentialsApi.VerifiedAsync(http, services, user, Federated, clientId);
    }

    private static ProblemHttpResult Conflict(string reason, string detail) => TypedResults.Problem(
        statusCode: StatusCodes.Status409Conflict, title: "The external account cannot be used this way.", detail: detail,
        extensions: new Dictionary<string, object?> { ["reason"] = reason });

    private static ProblemHttpResult Refuse(string reason, string detail) => TypedResults.Problem(
        statusCode: StatusCodes.Status403Forbidden, title: "The external account cannot sign in here.", detail: detail,
        extensions: new Dictionary<string, object?> { ["reason"] = reason });
}

/// <summary>An external sign-in names the provider and the provider's subject for this user.</summary>
public sealed class ExternalSignInRequestValidator : AbstractValidator<ExternalAccountsApi.ExternalSignInRequest>
{
    public ExternalSignInRequestValidator()
    {
        RuleFor(r => r.Provider).Must(ExternalLoginRules.IsProviderName).WithErrorCode("invalid")
            .WithMessage("A provider name of letters, digits, '-' or '_' (at most 64).");
        RuleFor(r => r.ProviderSubject).Must(ExternalLoginRules.IsProviderSubject).WithErrorCode("invalid")
            .WithMessage("The provider's subject: 1 to 255 printable characters.");
    }
}
