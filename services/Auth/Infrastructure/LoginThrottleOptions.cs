using Microsoft.Extensions.Hosting;

namespace SecurePlatform.Auth.Infrastructure;

/// <summary>Section <c>Login:Throttle</c>: brute-force protection per account (README, "Rate limits"). Budgets per IP and account: <c>RateLimiting</c>.</summary>
public sealed class LoginThrottleOptions
{
    public const string SectionName = "Login:Throttle";

    /// <summary>Failures an account (known or not) may have before its unknown devices must wait.</summary>
    public int FreeFailures { get; set; } = 5;

    /// <summary>The first wait; it doubles with every further failure.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest wait: at most one guess per this interval per account from unknown devices.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Failures are forgotten this long after the last one (and on a success from an unknown device).</summary>
    public TimeSpan FailureMemory { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The device cookie: issued at every successful sign-in, bound to the account, good for this long.</summary>
    public TimeSpan DeviceCookieLifetime { get; set; } = TimeSpan.FromDays(180);

    public string DeviceCookieName { get; set; } = "__Secure-sp_device";

    public static IEnumerable<string> Validate(LoginThrottleOptions o) => OptionsRule.Failures(
        OptionsRule.AtLeast(o.FreeFailures, 1, "Login:Throttle:FreeFailures"),
        OptionsRule.Positive(o.BaseDelay, "Login:Throttle:BaseDelay"),
        o.MaxDelay >= o.BaseDelay ? null : "Login:Throttle:MaxDelay must be at least Login:Throttle:BaseDelay.",
        o.FailureMemory >= o.MaxDelay ? null : "Login:Throttle:FailureMemory must be at least Login:Throttle:MaxDelay (a wait must not be forgotten before it ends).",
        OptionsRule.Positive(o.DeviceCookieLifetime, "Login:Throttle:DeviceCookieLifetime"),
        o.DeviceCookieName.StartsWith("__Secure-", StringComparison.Ordinal) || o.DeviceCookieName.StartsWith("__Host-", StringComparison.Ordinal)
            ? null : "Login:Throttle:DeviceCookieName must start with __Secure- or __Host-.");
}
