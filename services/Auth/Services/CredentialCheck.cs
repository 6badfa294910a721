using System.Net;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.IntegrationEvents;
using SecurePlatform.Auth.Model;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.RateLimiting;

namespace SecurePlatform.Auth.Services;

/// <summary>One sign-in attempt as every sign-in path sees it: the JSON API and (through the back channel) the hosted login page.</summary>
/// <param name="ClientAddress">The end user's address: the connection's (after trusted proxies), or what the back channel reports.</param>
/// <param name="DeviceCookie">The device cookie the user agent presented, if any.</param>
public sealed record CredentialCheckRequest(string? Email, string Password, IPAddress? ClientAddress, string? UserAgent, string? DeviceCookie);

public abstract record CredentialCheckResult
{
    /// <summary>
    /// The password is right. <see cref="DeviceCookie"/>: the device cookie's value that makes this device known.
    /// <see cref="MfaRequired"/>: the user has an active second factor; no session before it is checked.
    /// </summary>
    public sealed record Verified(User User, string DeviceCookie, bool MfaRequired) : CredentialCheckResult
    {
        /// <summary>The user's roles, read with the account (a session opened right after needs them).</summary>
        public required IReadOnlyList<string> Roles { get; init; }
    }

    /// <summary>Wrong password, unknown or disabled account: one answer for all.</summary>
    public sealed record Failed : CredentialCheckResult;

    /// <summary>Over a budget, or the account must wait: the password was not looked at. Same for known and unknown accounts.</summary>
    public sealed record Throttled(string Policy, string ClientPartition, TimeSpan RetryAfter) : CredentialCheckResult;
}

/// <summary>
/// The credential check every sign-in path runs (ARCHITECTURE: one code path for timing equalisation, throttling and
/// events). Order matters: the throttle decides before any account look-up or Argon2id work, from the normalised
/// identifier alone, so a throttled answer costs nothing and says nothing about the account or the password; then every
/// failure does the same work (one look-up, one verification, one failure record, one outbox row).
/// </summary>
public sealed class CredentialCheck(
    UserManager<User> users,
    AuthDbContext db,
    DummyPasswordHash dummy,
    LoginThrottle throttle,
    DeviceCookies devices)
{
    public async Task<CredentialCheckResult> CheckAsync(CredentialCheckRequest request, CancellationToken cancellationToken)
    {
        // A syntactically impossible address is just an unknown account, counted under its folded form.
        var normalized = EmailAddress.TryNormalize(request.Email, out var email, out _) ? email : null;
        var account = ClientPartition.Hash(normalized ?? (request.Email ?? "").Trim().ToLowerInvariant());
        var client = ClientPartition.Of(request.ClientAddress);
        var deviceNonce = devices.Read(request.DeviceCookie, account);

        var attempt = await throttle.BeginAsync(client, account, deviceNonce, cancellationToken);
        if (attempt.RejectedPolicy is { } policy)
        {
            return new CredentialCheckResult.Throttled(policy, client, attempt.RetryAfter);
        }
        var trustedNonce = attempt.TrustedDevice ? deviceNonce : null;

        var found = normalized is null ? null : await FindAccountAsync(normalized, cancellationToken);
        var user = found?.User;
        string? failure = null;
        if (user is null)
        {
            dummy.Verify(request.Password);
            failure = LoginFailureReasons.UnknownAccount;
        }
        else if (user.IsDisabled || user.PasswordHash is null)
        {
            dummy.Verify(request.Password);
            failure = LoginFailureReasons.AccountDisabled;
        }
        else if (!await users.CheckPasswordAsync(user, request.Password)) // re-hashes and stores when the hash is outdated
        {
            failure = LoginFailureReasons.InvalidCredentials;
        }

        if (failure is null)
        {
            // With a second factor, only the whole sign-in forgets the account's failures (SecondFactorCheck): else
            // someone who has the password could reset the progressive delay between code guesses.
            var mfaRequired = found!.MfaRequired;
            if (!mfaRequired && attempt.FailuresToForget > 0)
            {
                await throttle.RecordSuccessAsync(account, trustedNonce, CancellationToken.None);
            }
            return new CredentialCheckResult.Verified(user!, devices.Issue(account, deviceNonce), mfaRequired) { Roles = found.Roles };
        }

        var failures = await throttle.RecordFailureAsync(account, trustedNonce, CancellationToken.None);
        db.AddIntegrationEvent(Stamp(new LoginFailed { Reason = failure }, request, user?.Id));
        if (trustedNonce is null && failures == throttle.Options.FreeFailures)
        {
            // The progressive delay starts now: recorded once per episode, not at every further failure.
            var wait = ProgressiveDelay.After(failures, throttle.Options.FreeFailures, throttle.Options.BaseDelay, throttle.Options.MaxDelay);
            db.AddIntegrationEvent(Stamp(new AccountLockedOut { LockedUntil = DateTimeOffset.UtcNow + wait }, request, user?.Id));
        }
        await db.SaveChangesAsync(CancellationToken.None);
        return new CredentialCheckResult.Failed();
    }

    /// <summary>
    /// The account (tracked: a re-hash or the last-login time is saved through it), whether a second factor is active,
    /// and its roles: one statement where Identity's look-up, the factor check and <c>GetRolesAsync</c> took three.
    /// </summary>
    private Task<AccountRecord?> FindAccountAsync(string email, CancellationToken cancellationToken)
    {
        var key = users.NormalizeEmail(email);
        return db.Users
            .Where(u => u.NormalizedEmail == key)
            .Select(u => new AccountRecord(
                u,
                db.TotpAuthenticators.Any(t => t.UserId == u.Id && t.ConfirmedAt != null),
                db.UserRoles.Where(r => r.UserId == u.Id).Join(db.Roles, r => r.RoleId, role => role.Id, (_, role) => role.Name!).ToList()))
            .SingleOrDefaultAsync(cancellationToken);
    }

    private sealed record AccountRecord(User User, bool MfaRequired, List<string> Roles);

    private static T Stamp<T>(T integrationEvent, CredentialCheckRequest request, string? subject) where T : IntegrationEvent =>
        ((T)((IntegrationEvent)integrationEvent with
        {
            IpAddress = request.ClientAddress is { } ip ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString() : null,
            UserAgent = EventStamping.Truncate(request.UserAgent),
        })).Stamp(AuthEvents.SourceService, http: null, actor: null, subject: subject);
}
