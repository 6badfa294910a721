using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using SecurePlatform.ServiceDefaults.RateLimiting;
using StackExchange.Redis;

namespace SecurePlatform.Auth.Infrastructure;

/// <summary>
/// Encrypts TOTP secrets at rest with auth-service's Data Protection ring (shared by the replicas through Redis). A
/// database dump alone therefore yields no seeds.
/// </summary>
public sealed class TotpSecretProtector(IDataProtectionProvider dataProtection)
{
    private readonly IDataProtector _protector = dataProtection.CreateProtector("SecurePlatform.Auth.TotpSecret.v1");

    public string Protect(string base32Secret) => _protector.Protect(base32Secret);

    public string Unprotect(string protectedSecret) => _protector.Unprotect(protectedSecret);
}

/// <summary>Where a ticket may be redeemed: the JSON login's <c>POST /auth/login/mfa</c> or the hosted login's back channel.</summary>
public enum MfaTicketChannel
{
    Api,
    HostedLogin,

    /// <summary>The hosted login after an external provider's sign-in: the second step gives amr <c>fed otp mfa</c>.</summary>
    HostedExternal,
}

/// <summary>What the password step established, kept with the ticket until the second factor is given.</summary>
/// <param name="DeviceCookie">The device cookie's value the password step earned; given out only once the second factor is.</param>
public sealed record MfaTicketPayload(MfaTicketChannel Channel, string? ClientId, bool UseCookie, string? DeviceCookie);

/// <summary>
/// "Second factor required" tickets in Redis: 256 random bits handed to the client, only their SHA-256 used as the key;
/// bound to the user; expire after <see cref="Lifetime"/>; redeemed once (the redeeming request deletes the key and only
/// the one that deleted it goes on); deleted after <see cref="MaxFailures"/> wrong codes, so a stolen password buys a
/// few guesses per password step, each also counted by the sign-in throttle.
/// </summary>
public sealed class MfaTickets(RateLimitStore store)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);
    public const int MaxFailures = 3;

    private const string IssueScript = """
        redis.call('HSET', KEYS[1], 'sub', ARGV[1], 'ctx', ARGV[2], 'fails', 0)
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return 1
        """;

    private const string PeekScript = "return redis.call('HMGET', KEYS[1], 'sub', 'ctx')";

    private const string FailScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
        local n = redis.call('HINCRBY', KEYS[1], 'fails', 1)
        if n >= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) end
        return n
        """;

    private const string ConsumeScript = "return redis.call('DEL', KEYS[1])";

    // 1 for the one caller that set the claim on a live ticket; 0 for a missing ticket or one already claimed.
    private const string ClaimScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        return redis.call('HSETNX', KEYS[1], 'claim', '1')
        """;

    private const string ReleaseScript = "return redis.call('HDEL', KEYS[1], 'claim')";

    public async Task<string> IssueAsync(string subject, MfaTicketPayload payload, CancellationToken cancellationToken)
    {
        var ticket = Base64Url(RandomNumberGenerator.GetBytes(32));
        await store.EvaluateAsync(IssueScript, [Key(ticket)],
            [subject, JsonSerializer.Serialize(payload), ((long)Lifetime.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)], cancellationToken);
        return ticket;
    }

    /// <summary>The ticket's user and payload while it is valid; null for an unknown, expired or used ticket.</summary>
    public async Task<(string Subject, MfaTicketPayload Payload)?> PeekAsync(string? ticket, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(ticket) || ticket.Length > 128)
        {
            return null;
        }
        var values = (RedisResult[])(await store.EvaluateAsync(PeekScript, [Key(ticket)], [], cancellationToken))!;
        if (values[0].IsNull || values[1].IsNull)
        {
            return null;
        }
        var payload = JsonSerializer.Deserialize<MfaTicketPayload>((string)values[1]!);
        return payload is null ? null : ((string)values[0]!, payload);
    }

    public async Task RecordFailureAsync(string ticket, CancellationToken cancellationToken) =>
        await store.EvaluateAsync(FailScript, [Key(ticket)], [MaxFailures], cancellationToken);

    /// <summary>
    /// Takes the ticket for one second step at a time: true for exactly one of concurrent callers. Without it, two
    /// requests with one ticket and two different recovery codes each spent their code (a database update each) and
    /// only one got the session, the other's code lost for nothing. The holder releases it unless it consumes the
    /// ticket; a holder that dies leaves it claimed until the ticket expires (a new password step gives a new one).
    /// </summary>
    public async Task<bool> ClaimAsync(string ticket, CancellationToken cancellationToken) =>
        (long)await store.EvaluateAsync(ClaimScript, [Key(ticket)], [], cancellationToken) == 1;

    public async Task ReleaseAsync(string ticket, CancellationToken cancellationToken) =>
        await store.EvaluateAsync(ReleaseScript, [Key(ticket)], [], cancellationToken);

    /// <summary>True for exactly one caller: the one whose request deleted the ticket.</summary>
    public async Task<bool> ConsumeAsync(string ticket, CancellationToken cancellationToken) =>
        (long)await store.EvaluateAsync(ConsumeScript, [Key(ticket)], [], cancellationToken) == 1;

    private RedisKey Key(string ticket) => store.Key("mfa-ticket", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ticket))));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
