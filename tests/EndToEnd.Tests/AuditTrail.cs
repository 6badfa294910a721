using System.Net.Http.Json;
using System.Text.Json;
using SecurePlatform.TestSupport;

namespace SecurePlatform.EndToEnd.Tests;

/// <summary>Reads a user's audit trail through the admin API, as an operator would.</summary>
public static class AuditTrail
{
    public static async Task<string> AdminTokenAsync(Platform platform) =>
        (await AdminSignIn.LoginAsync(platform)).Access;

    public static async Task<List<JsonElement>> EventsAsync(Platform platform, string adminToken, string userId, string? types = null)
    {
        var query = $"/audit/events?userId={Uri.EscapeDataString(userId)}&limit=500" + (types is null ? "" : "&" + string.Join("&", types.Split(',').Select(t => "type=" + t)));
        var page = await HttpAssert.OkJsonAsync<JsonElement>(await User.Http(platform.Audit, adminToken).GetAsync(query));
        return [.. page.GetProperty("items").EnumerateArray()];
    }

    /// <summary>Waits until the trail holds at least <paramref name="count"/> events (of the given types), then returns it.</summary>
    public static async Task<List<JsonElement>> WaitForAsync(Platform platform, string adminToken, string userId, int count, string? types = null, TimeSpan? timeout = null)
    {
        List<JsonElement> events = [];
        await Eventually.HoldsAsync(async () => (events = await EventsAsync(platform, adminToken, userId, types)).Count >= count,
            timeout ?? TimeSpan.FromSeconds(30), $"{count} audit events for {userId}");
        return events;
    }

    public static string Type(this JsonElement e) => e.GetProperty("type").GetString()!;
}
