using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace SecurePlatform.Token.Infrastructure;

/// <summary>
/// The <c>profile</c> scope's claims for userinfo (OpenID Connect Core §5.4), from profile-service, which owns the
/// profile. It is asked with the caller's own access token, so profile-service's authorization and revocation
/// check decide, not a wider service credential. Unreachable or refusing, it yields no claims: the other userinfo
/// claims do not depend on it, and a client's sign-in should not fail over a display name.
/// </summary>
public sealed partial class ProfileServiceClient(HttpClient http, ILogger<ProfileServiceClient> logger)
{
    /// <summary>Service discovery name; resolved from <c>services:profile-service:https:0</c> / <c>http:0</c>.</summary>
    public const string BaseAddress = "https+http://profile-service";

    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(3);

    public async Task<Dictionary<string, object>> ProfileClaimsAsync(string accessToken, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Budget);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/profiles/me");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
            using var response = await http.SendAsync(request, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                LogNoProfile((int)response.StatusCode);
                return [];
            }
            using var profile = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(timeout.Token), cancellationToken: timeout.Token);
            return FromProfile(profile.RootElement);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            LogUnavailable(ex.GetType().Name);
            return [];
        }
    }

    /// <summary>
    /// profile-service's fields as standard claims: name, website, locale, zoneinfo, updated_at. No <c>picture</c>:
    /// the avatar is served to signed-in callers only, so its URL would not load in a client's page.
    /// </summary>
    public static Dictionary<string, object> FromProfile(JsonElement profile)
    {
        var claims = new Dictionary<string, object>(StringComparer.Ordinal);
        void Text(string member, string claim)
        {
            if (profile.TryGetProperty(member, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text)
            {
                claims[claim] = text;
            }
        }
        Text("displayName", Claims.Name);
        Text("website", Claims.Website);
        Text("locale", Claims.Locale);
        Text("timeZone", Claims.Zoneinfo);
        if (profile.TryGetProperty("updatedAt", out var updated) && updated.ValueKind == JsonValueKind.String
            && DateTimeOffset.TryParse(updated.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at))
        {
            claims[Claims.UpdatedAt] = at.ToUnixTimeSeconds();
        }
        return claims;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "profile-service answered {StatusCode} for userinfo; the profile claims are left out")]
    private partial void LogNoProfile(int statusCode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "profile-service unavailable for userinfo ({ErrorType}); the profile claims are left out")]
    private partial void LogUnavailable(string errorType);
}
