using Microsoft.Extensions.Hosting;

namespace SecurePlatform.ServiceDefaults.RateLimiting;

/// <summary>The platform's rate-limit policy names: one name per budget, the same in every service and in configuration.</summary>
public static class RateLimitPolicies
{
    /// <summary>Every route without a policy of its own, per client IP. Generous: a flood guard, not a brute-force control.</summary>
    public const string Ceiling = "ceiling";

    /// <summary>Sign-in attempts per client IP (auth-service's credential check, every sign-in path).</summary>
    public const string Login = "login";

    /// <summary>Sign-in attempts per normalised account identifier, known or not (per identifier and device for a known device).</summary>
    public const string LoginAccount = "login-account";

    public const string Register = "register";

    public const string PasswordChange = "password-change";

    /// <summary>Uploads (profile-service's avatar) per signed-in user: each one is decoded and re-encoded.</summary>
    public const string Upload = "upload";

    /// <summary><c>/connect/token</c> per client id and client IP.</summary>
    public const string Token = "token";

    /// <summary><c>/connect/token</c> per client IP, whatever the client id.</summary>
    public const string TokenIp = "token-ip";
}

/// <summary>One budget: at most <see cref="PermitLimit"/> requests per partition in a <see cref="Window"/> (fixed window, starting at the first request).</summary>
public sealed class RateLimitPolicyOptions
{
    public int PermitLimit { get; set; }

    public TimeSpan Window { get; set; }

    /// <summary>When Redis cannot be asked: true lets the request through, false answers 503 with Retry-After.</summary>
    public bool? FailOpen { get; set; }
}

/// <summary>Section <c>RateLimiting</c>. Defaults and their reasons: README, "Rate limits".</summary>
public sealed class RateLimitingOptions
{
    public const string SectionName = "RateLimiting";

    /// <summary>Off only for benchmarks that measure what the limiter costs (with auth-service's sign-in throttle); refused in Production.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Prefix of every Redis key; replicas of one deployment must share it (tests give each run its own).</summary>
    public string KeyPrefix { get; set; } = "rl:";

    /// <summary>
    /// How long one Redis call may take before it counts as "cannot ask" (a fail-closed policy then answers 503).
    /// Not the outage detector: a refused or closed connection fails at once and opens the circuit. It only bounds a
    /// Redis that hangs, so it must outlast the thread-pool queueing of a CPU-saturated host (250 ms did not:
    /// 16 concurrent sign-ins on 2 cores answered 503).
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the circuit stays open (every call answered at once, without Redis) after repeated failures.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>At most one <c>RequestThrottled</c> event per policy and client IP in this interval, across replicas.</summary>
    public TimeSpan EventInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>At most this many <c>RequestThrottled</c> events per policy and service in <see cref="EventInterval"/> (a flood from many IPs).</summary>
    public int MaxEventsPerInterval { get; set; } = 20;

    public Dictionary<string, RateLimitPolicyOptions> Policies { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The defaults; configuration overrides per value (<c>RateLimiting:Policies:login:PermitLimit</c>).</summary>
    public static IReadOnlyDictionary<string, RateLimitPolicyOptions> Defaults { get; } = new Dictionary<string, RateLimitPolicyOptions>(StringComparer.Ordinal)
    {
        [RateLimitPolicies.Ceiling] = new() { PermitLimit = 600, Window = TimeSpan.FromMinutes(1), FailOpen = true },
        [RateLimitPolicies.Login] = new() { PermitLimit = 20, Window = TimeSpan.FromMinutes(1) },
        [RateLimitPolicies.LoginAccount] = new() { PermitLimit = 10, Window = TimeSpan.FromMinutes(1) },
        [RateLimitPolicies.Register] = new() { PermitLimit = 5, Window = TimeSpan.FromHours(1) },
        [RateLimitPolicies.PasswordChange] = new() { PermitLimit = 10, Window = TimeSpan.FromMinutes(15) },
        [RateLimitPolicies.Upload] = new() { PermitLimit = 20, Window = TimeSpan.FromHours(1) },
        [RateLimitPolicies.Token] = new() { PermitLimit = 60, Window = TimeSpan.FromMinutes(1) },
        [RateLimitPolicies.TokenIp] = new() { PermitLimit = 120, Window = TimeSpan.FromMinutes(1) },
    };

    /// <summary>The policy's settings (configured values over <see cref="Defaults"/>).</summary>
    public RateLimitPolicyOptions Policy(string name) =>
        Policies.TryGetValue(name, out var configured) ? configured
        : Defaults.TryGetValue(name, out var fallback) ? fallback
        : throw new InvalidOperationException($"Unknown rate-limit policy '{name}'.");

    public static IEnumerable<string> Validate(RateLimitingOptions o) => OptionsRule.Failures(
        [
            OptionsRule.Required(o.KeyPrefix, "RateLimiting:KeyPrefix"),
            OptionsRule.Positive(o.Timeout, "RateLimiting:Timeout"),
            OptionsRule.Positive(o.BreakDuration, "RateLimiting:BreakDuration"),
            OptionsRule.Positive(o.EventInterval, "RateLimiting:EventInterval"),
            OptionsRule.AtLeast(o.MaxEventsPerInterval, 0, "RateLimiting:MaxEventsPerInterval"),
            .. o.Policies.SelectMany(p => new[]
            {
                OptionsRule.AtLeast(p.Value.PermitLimit, 1, $"RateLimiting:Policies:{p.Key}:PermitLimit"),
                p.Value.Window >= TimeSpan.FromSeconds(1) ? null : $"RateLimiting:Policies:{p.Key}:Window must be at least 1 second.",
            }),
        ]);

    /// <summary>Fills every default policy into <see cref="Policies"/>, keeping what configuration set (binding fills only named values).</summary>
    internal void ApplyDefaults()
    {
        foreach (var (name, fallback) in Defaults)
        {
            if (!Policies.TryGetValue(name, out var configured))
            {
                Policies[name] = new RateLimitPolicyOptions { PermitLimit = fallback.PermitLimit, Window = fallback.Window, FailOpen = fallback.FailOpen ?? false };
                continue;
            }
            // A partly configured policy keeps the defaults it did not name.
            if (configured.PermitLimit == 0)
            {
                configured.PermitLimit = fallback.PermitLimit;
            }
            if (configured.Window == TimeSpan.Zero)
            {
                configured.Window = fallback.Window;
            }
            configured.FailOpen ??= fallback.FailOpen ?? false;
        }
    }
}
