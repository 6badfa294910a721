namespace SecurePlatform.Auth.Model;

/// <summary>
/// How long an account's next sign-in attempt from an unknown device must wait after its recent failures: nothing for
/// the first <c>freeFailures</c>, then <c>baseDelay</c> doubling with each further failure, capped at <c>maxDelay</c>.
/// Never a lock: at the cap an attacker gets one guess per <c>maxDelay</c>, and the owner's known devices are not
/// slowed at all.
/// </summary>
public static class ProgressiveDelay
{
    public static TimeSpan After(long failures, int freeFailures, TimeSpan baseDelay, TimeSpan maxDelay)
    {
        if (failures < freeFailures)
        {
            return TimeSpan.Zero;
        }
        var doublings = Math.Min(failures - freeFailures, 40); // 2^40 × any sane base is past every cap
        var ticks = baseDelay.Ticks * Math.Pow(2, doublings);
        return ticks >= maxDelay.Ticks ? maxDelay : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>What is left of that wait at <paramref name="nowMs"/> (Redis's clock, unix ms), after the last failure at <paramref name="lastFailureMs"/>.</summary>
    public static TimeSpan Remaining(long failures, long lastFailureMs, long nowMs, int freeFailures, TimeSpan baseDelay, TimeSpan maxDelay)
    {
        var wait = After(failures, freeFailures, baseDelay, maxDelay);
        var left = lastFailureMs + (long)wait.TotalMilliseconds - nowMs;
        return left > 0 ? TimeSpan.FromMilliseconds(left) : TimeSpan.Zero;
    }
}
