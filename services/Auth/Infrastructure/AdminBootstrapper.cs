using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SecurePlatform.Auth.IntegrationEvents;
using SecurePlatform.Auth.Model;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.Resilience;

namespace SecurePlatform.Auth.Infrastructure;

/// <summary>Section <c>Bootstrap</c>: the initial administrator. There is no default password.</summary>
public sealed class BootstrapOptions
{
    public const string SectionName = "Bootstrap";

    public string? AdminEmail { get; set; }

    public string? AdminPassword { get; set; }
}

/// <summary>
/// Start-up work of the accounts, after the migrator (registered before it by <c>AddPlatformDbContext</c>):
/// computes the dummy hash that failed sign-ins verify against, then creates the initial administrator
/// from <c>Bootstrap:AdminEmail</c>/<c>Bootstrap:AdminPassword</c> when no account has the <c>admin</c> role.
/// Creates none (with a log line naming the setting, never the value) when either is missing, the password
/// breaks the policy, or an account with that email exists already (it is never promoted: whoever
/// registered the address first would otherwise become administrator). Runs in the background and retries
/// while the database is unreachable, so start-up neither blocks nor fails on it.
/// </summary>
public sealed partial class AdminBootstrapper(
    IServiceScopeFactory scopes,
    DummyPasswordHash dummyHash,
    IOptions<BootstrapOptions> options,
    ILogger<AdminBootstrapper> logger) : BackgroundService
{
    private const int MaxAttempts = 6;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        dummyHash.Warm();
        var retry = BackoffRetry.Create(TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(1), retryOn: _ => true,
            onRetry: (ex, attempt, _) => LogAttemptFailed(attempt, MaxAttempts, ex.GetType().Name), maxRetries: MaxAttempts - 1);
        try
        {
            await retry.ExecuteAsync(async ct => await EnsureAdministratorAsync(ct), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogAttemptFailed(MaxAttempts, MaxAttempts, ex.GetType().Name);
        }
    }

    internal async Task EnsureAdministratorAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<User>>();
        var db = scope.ServiceProvider.GetRequiredService<AuthDbContext>();
        if (await db.UserRoles.AnyAsync(ur => ur.RoleId == RoleNames.AdminRoleId, cancellationToken))
        {
            return;
        }
        var settings = options.Value;
        if (string.IsNullOrWhiteSpace(settings.AdminEmail) || string.IsNullOrEmpty(settings.AdminPassword))
        {
            LogNotConfigured();
            return;
        }
        if (!EmailAddress.TryNormalize(settings.AdminEmail, out var email, out _))
        {
            LogInvalidEmail();
            return;
        }
        var violations = scope.ServiceProvider.GetRequiredService<PasswordPolicy>().Check(settings.AdminPassword, email);
        if (violations.Count > 0)
        {
            LogWeakPassword(string.Join(", ", violations.Select(v => v.Rule)));
            return;
        }
        if (await users.FindByEmailAsync(email) is not null)
        {
            LogEmailTaken();
            return;
        }

        var admin = new User { UserName = email, Email = email, EmailConfirmed = true };
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        try
        {
            var created = await users.CreateAsync(admin, settings.AdminPassword);
            if (!created.Succeeded)
            {
                LogCreateFailed(string.Join(", ", created.Errors.Select(e => e.Code)));
                return;
            }
            await users.AddToRolesAsync(admin, [RoleNames.Admin, RoleNames.User]);
            // No request: the actor is auth-service itself (its client id), the subject the new administrator.
            db.AddIntegrationEvent(new UserRegistered().Stamp(AuthEvents.SourceService, http: null, actor: TokenServiceOptions.ClientId, subject: admin.Id));
            db.AddIntegrationEvent(new RoleGranted { Role = RoleNames.Admin }.Stamp(AuthEvents.SourceService, http: null, actor: TokenServiceOptions.ClientId, subject: admin.Id));
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            LogCreated();
        }
        catch (DbUpdateException)
        {
            LogCreatedElsewhere(); // another replica created it at the same moment (unique user name)
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No administrator exists and Bootstrap:AdminEmail / Bootstrap:AdminPassword are not both set: no administrator created.")]
    private partial void LogNotConfigured();

    [LoggerMessage(Level = LogLevel.Error, Message = "Bootstrap:AdminEmail is not a valid email address: no administrator created.")]
    private partial void LogInvalidEmail();

    [LoggerMessage(Level = LogLevel.Error, Message = "Bootstrap:AdminPassword breaks the password policy ({Rules}): no administrator created.")]
    private partial void LogWeakPassword(string rules);

    [LoggerMessage(Level = LogLevel.Error, Message = "An account with the address in Bootstrap:AdminEmail exists and is not an administrator; it is not promoted: no administrator created.")]
    private partial void LogEmailTaken();

    [LoggerMessage(Level = LogLevel.Error, Message = "Creating the initial administrator failed: {Errors}")]
    private partial void LogCreateFailed(string errors);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created the initial administrator from Bootstrap:AdminEmail.")]
    private partial void LogCreated();

    [LoggerMessage(Level = LogLevel.Information, Message = "The initial administrator was created concurrently by another instance.")]
    private partial void LogCreatedElsewhere();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bootstrap of the administrator failed ({ErrorType}), attempt {Attempt} of {MaxAttempts}")]
    private partial void LogAttemptFailed(int attempt, int maxAttempts, string errorType);
}
