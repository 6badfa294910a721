namespace SecurePlatform.TestSupport;

public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes; returns how long it took.</summary>
    public static async Task<TimeSpan> HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout, string because)
    {
        var started = DateTime.UtcNow;
        while (true)
        {
            if (await condition())
            {
                return DateTime.UtcNow - started;
            }
            if (DateTime.UtcNow - started > timeout)
            {
                throw new Xunit.Sdk.XunitException($"Still not true after {timeout.TotalSeconds:0.#} s: {because}");
            }
            await Task.Delay(100);
        }
    }
}
