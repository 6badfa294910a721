using System.Net;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.IntegrationEvents;
using SecurePlatform.Auth.Model;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.RateLimiting;

namespace SecurePlatform.Auth.Services;

/// <summary>A TOTP code or a recovery code for <paramref name="User"/>, from the client at <paramref name="ClientAddress"/>.</summary>
public sealed record SecondFactorRequest(User User, string? Code, string? RecoveryCode, IPAddress? ClientAddress, string? UserAgent);

public abstract record SecondFactorResult
{
    /// <summary>The code was right and is spent. <see cref="RecoveryCodesLeft"/> is set when a recovery code was used.</summary>
    public sealed record Verified(int? RecoveryCodesLeft) : SecondFactorResult;

    /// <summary>Wrong, replayed or malformed code, or no active authenticator.</summary>
    public sealed record Failed : SecondFactorResult;

    public sealed record Throttled(string Policy, string ClientPartition, TimeSpan RetryAfter) : SecondFactorResult;
}

/// <summary>
/// The second factor, checked like the password: the same throttle (per IP and per account budget, progressive delay
/// on the account's failures, which wrong codes add to), a <c>LoginFailed</c> (<c>mfa_failed</c>) for every wrong code,
/// <c>RecoveryCodeUsed</c> when a recovery code is spent. A TOTP code is accepted once: the accepted step is stored with
/// a conditional update, so of two concurrent requests with the same code only one wins.
/// </summary>
public sealed class SecondFactorCheck(
    AuthDbContext db, LoginThrottle throttle, TotpSecretProtector secrets, [FromKeyedServices(SecondFactorCheck.ClockKey)] TimeProvider clock)
{
    /// <summary>The clock TOTP codes are checked against (keyed, so tests can move it without moving token lifetimes).</summary>
    public const string ClockKey = "totp";

    public DateTimeOffset Now => clock.GetUtcNow();

    public async Task<SecondFactorResult> CheckAsync(SecondFactorRequest request, CancellationToken cancellationToken)
    {
        var account = ClientPartition.Hash(request.User.Email ?? request.User.Id);
        var client = ClientPartition.Of(request.ClientAddress);
        var attempt = await throttle.BeginAsync(client, account, deviceNonce: null, cancellationToken);
        if (attempt.RejectedPolicy is { } policy)
        {
            return new SecondFactorResult.Throttled(policy, client, attempt.RetryAfter);
        }

        var userId = request.User.Id;
        var authenticator = await db.TotpAuthenticators.AsNoTracking().SingleOrDefaultAsync(t => t.UserId == userId && t.ConfirmedAt != null, cancellationToken);
        int? recoveryLeft = null;
        var verified = false;
        if (authenticator is not null && !string.IsNullOrEmpty(request.Code))
        {
            var step = TotpRules.Verify(secrets.Unprotect(authenticator.ProtectedSecret), request.Code, clock.GetUtcNow(), authenticator.LastUsedStep);
            verified = step is { } accepted && await db.TotpAuthenticators
                .Where(t => t.UserId == userId && (t.LastUsedStep == null || t.LastUsedStep < accepted))
                .ExecuteUpdateAsync(t => t.SetProperty(a => a.LastUsedStep, accepted), cancellationToken) == 1;
        }
        else if (authenticator is not null && RecoveryCodeRules.Hash(request.RecoveryCode) is { } hash)
        {
            var now = clock.GetUtcNow();
            verified = await db.RecoveryCodes
                .Where(c => c.UserId == userId && c.Hash == hash && c.UsedAt == null)
                .ExecuteUpdateAsync(c => c.SetProperty(r => r.UsedAt, now), cancellationToken) == 1;
            if (verified)
            {
                recoveryLeft = await db.RecoveryCodes.CountAsync(c => c.UserId == userId && c.UsedAt == null, cancellationToken);
                db.AddIntegrationEvent(Stamp(new RecoveryCodeUsed { Remaining = recoveryLeft.Value }, request));
                await db.SaveChangesAsync(CancellationToken.None);
            }
        }

        if (verified)
        {
            await throttle.RecordSuccessAsync(account, trustedDeviceNonce: null, CancellationToken.None);
            return new SecondFactorResult.Verified(recoveryLeft);
        }
        await throttle.RecordFailureAsync(account, trustedDeviceNonce: null, CancellationToken.None);
        db.AddIntegrationEvent(Stamp(new LoginFailed { Reason = LoginFailureReasons.MfaFailed }, request));
        await db.SaveChangesAsync(CancellationToken.None);
        return new SecondFactorResult.Failed();
    }

    /// <summary>Whether <paramref name="userId"/> has a confirmed authenticator (then every sign-in needs the second factor).</summary>
    public Task<bool> IsEnabledAsync(string userId, CancellationToken cancellationToken) =>
        db.TotpAuthenticators.AnyAsync(t => t.UserId == userId && t.ConfirmedAt != null, cancellationToken);

    private static T Stamp<T>(T integrationEvent, SecondFactorRequest request) where T : IntegrationEvent =>
        ((T)((IntegrationEvent)integrationEvent with
        {
            IpAddress = request.ClientAddress is { } ip ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString() : null,
            UserAgent = EventStamping.Truncate(request.UserAgent),
        })).Stamp(AuthEvents.SourceService, http: null, actor: request.User.Id, subject: request.User.Id);
}
