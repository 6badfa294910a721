using System.Globalization;
using Microsoft.Extensions.Options;
using SecurePlatform.Auth.Model;
using SecurePlatform.ServiceDefaults.RateLimiting;
using StackExchange.Redis;

namespace SecurePlatform.Auth.Infrastructure;

/// <summary>
/// The throttle's verdict on one sign-in attempt, before the password is looked at. <see cref="FailuresToForget"/>: the
/// failures a success would reset (the account's, or the trusted device's), as the attempt read them.
/// </summary>
public readonly record struct LoginAttempt(bool TrustedDevice, string? RejectedPolicy, TimeSpan RetryAfter, long FailuresToForget = 0);

/// <summary>
/// Sign-in budgets and failure tracking in Redis, shared by every replica: per client IP (<c>login</c>), per account
/// identifier (<c>login-account</c>; per identifier and device for a known device), and the account's recent failures
/// (the progressive delay, <see cref="ProgressiveDelay"/>). The identifier is a hash of the normalised address, so an
/// unknown address is counted exactly like a known one. One round trip before the password check; after it, one for a
/// failure, and one for a success only when there are failures to forget.
/// Redis unreachable: <see cref="RateLimitStoreUnavailableException"/> (the sign-in answers 503; fail closed).
/// <c>RateLimiting:Enabled=false</c> (benchmarks only, refused in Production) switches it off with the rest of the limiter.
/// </summary>
public sealed class LoginThrottle(RateLimitStore store, IOptions<LoginThrottleOptions> options)
{
    private const string FailuresPolicy = "login-failures";

    // KEYS: 1 IP budget, 2 account budget, 3 account failures, 4 device budget, 5 device failures.
    // ARGV: 1 IP window ms, 2 account window ms, 3 device presented (0/1), 4 free failures.
    // A known device whose own failures reached the free ones is not trusted any more (a stolen cookie buys little).
    private const string AttemptScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local trusted = 0
        local df = 0
        if ARGV[3] == '1' then
          df = tonumber(redis.call('HGET', KEYS[5], 'n') or '0')
          if df < tonumber(ARGV[4]) then trusted = 1 end
        end
        local function hit(key, window)
          local count = redis.call('INCR', key)
          local ttl = redis.call('PTTL', key)
          if ttl < 0 then redis.call('PEXPIRE', key, window); ttl = tonumber(window) end
          return count, ttl
        end
        local ic, it = hit(KEYS[1], ARGV[1])
        local ac, at
        if trusted == 1 then ac, at = hit(KEYS[4], ARGV[2]) else ac, at = hit(KEYS[2], ARGV[2]) end
        local f = redis.call('HMGET', KEYS[3], 'n', 'at')
        return { now, trusted, ic, it, ac, at, tonumber(f[1] or '0'), tonumber(f[2] or '0'), df }
        """;

    // KEYS: 1 failures (the account's, or a known device's). ARGV: 1 memory ms. Returns the failure count.
    private const string FailureScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
        redis.call('HSET', KEYS[1], 'at', now)
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        return n
        """;

    private const string ResetScript = "return redis.call('DEL', KEYS[1])";

    private readonly LoginThrottleOptions _options = options.Value;

    public LoginThrottleOptions Options => _options;

    /// <summary>Counts the attempt and says whether it may go on to the password check.</summary>
    public async ValueTask<LoginAttempt> BeginAsync(string clientPartition, string account, string? deviceNonce, CancellationToken cancellationToken)
    {
        var limits = store.Options;
        if (!limits.Enabled)
        {
            return new LoginAttempt(false, null, TimeSpan.Zero);
        }
        var result = (RedisResult[])(await store.EvaluateAsync(
            AttemptScript,
            [
                store.Key(RateLimitPolicies.Login, clientPartition),
                store.Key(RateLimitPolicies.LoginAccount, account),
                store.Key(FailuresPolicy, account),
                store.Key(RateLimitPolicies.LoginAccount, account + ":" + deviceNonce),
                store.Key(FailuresPolicy, account + ":" + deviceNonce),
            ],
            [
                Milliseconds(limits.Policy(RateLimitPolicies.Login).Window),
                Milliseconds(limits.Policy(RateLimitPolicies.LoginAccount).Window),
                deviceNonce is null ? "0" : "1",
                _options.FreeFailures,
            ],
            cancellationToken))!;
        var now = (long)result[0];
        var trusted = (long)result[1] == 1;
        var failuresToForget = trusted ? (long)result[8] : (long)result[6];
        var verdict = RateLimitVerdict.Of(
            [(RateLimitPolicies.Login, clientPartition), (RateLimitPolicies.LoginAccount, account)],
            [new RateLimitCounter((long)result[2], TimeSpan.FromMilliseconds((long)result[3])), new RateLimitCounter((long)result[4], TimeSpan.FromMilliseconds((long)result[5]))],
            limits);
        var delay = trusted
            ? TimeSpan.Zero
            : ProgressiveDelay.Remaining((long)result[6], (long)result[7], now, _options.FreeFailures, _options.BaseDelay, _options.MaxDelay);
        if (verdict is { } rejected)
        {
            return new LoginAttempt(trusted, rejected.Policy, rejected.RetryAfter > delay ? rejected.RetryAfter : delay, failuresToForget);
        }
        return delay > TimeSpan.Zero
            ? new LoginAttempt(trusted, RateLimitPolicies.LoginAccount, delay, failuresToForget)
            : new LoginAttempt(trusted, null, TimeSpan.Zero, failuresToForget);
    }

    /// <summary>Records a failed password check; returns the failure count (the account's, or the known device's).</summary>
    public async ValueTask<long> RecordFailureAsync(string account, string? trustedDeviceNonce, CancellationToken cancellationToken)
    {
        if (!store.Options.Enabled)
        {
            return 0;
        }
        var key = store.Key(FailuresPolicy, trustedDeviceNonce is null ? account : account + ":" + trustedDeviceNonce);
        return (long)await store.EvaluateAsync(FailureScript, [key], [Milliseconds(_options.FailureMemory)], cancellationToken);
    }

    /// <summary>
    /// A success from an unknown device forgets the account's failures (they were the owner's typos); one from a known
    /// device forgets only that device's, so an attack from elsewhere stays slowed. The credential check calls it only
    /// when its attempt read failures to forget: a failure recorded meanwhile then stays, which only errs to the strict side.
    /// </summary>
    public async ValueTask RecordSuccessAsync(string account, string? trustedDeviceNonce, CancellationToken cancellationToken)
    {
        if (!store.Options.Enabled)
        {
            return;
        }
        var key = store.Key(FailuresPolicy, trustedDeviceNonce is null ? account : account + ":" + trustedDeviceNonce);
        await store.EvaluateAsync(ResetScript, [key], [], cancellationToken);
    }

    private static RedisValue Milliseconds(TimeSpan value) => ((long)value.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
}
