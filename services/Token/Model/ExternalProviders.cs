namespace SecurePlatform.Token.Model;

/// <summary>One external provider of section <c>ExternalProviders:&lt;Name&gt;</c>. None is configured by default.</summary>
public sealed class ExternalProviderSettings
{
    /// <summary>A generic OpenID provider's issuer (discovery is read from it). Not set for the well-known web providers.</summary>
    public Uri? Issuer { get; set; }

    public string? ClientId { get; set; }

    public string? ClientSecret { get; set; }

    /// <summary>What the login page's button says ("Sign in with …"); the name when not set.</summary>
    public string? DisplayName { get; set; }
}

/// <summary>
/// External sign-in through OpenIddict's client: <see cref="WebProviders"/> come from OpenIddict.Client.WebIntegration
/// (their endpoints are known), any other name is a generic OpenID provider with an issuer. The name is the key of the
/// linked login in auth-service, so it must keep meaning the same provider.
/// </summary>
public static class ExternalProviders
{
    public const string SectionName = "ExternalProviders";

    public static readonly IReadOnlyList<string> WebProviders = ["Google", "GitHub", "Microsoft", "Facebook"];

    public const string CallbackPathPrefix = "/account/external/callback/";

    public static string CallbackPath(string name) => CallbackPathPrefix + name.ToLowerInvariant();

    /// <summary>Authentication property naming the signed-in user who asked to link this provider (security page).</summary>
    public const string LinkProperty = "sp_link";

    /// <summary>
    /// Where "Sign in with …" redirects the browser after the POST (the page's form-action must allow it): the
    /// authorization endpoint's origin, which for a generic provider is taken to be its issuer's.
    /// </summary>
    public static Uri? AuthorizationOrigin(string name, ExternalProviderSettings settings) => name.ToLowerInvariant() switch
    {
        "google" => new Uri("https://accounts.google.com"),
        "github" => new Uri("https://github.com"),
        "microsoft" => new Uri("https://login.microsoftonline.com"),
        "facebook" => new Uri("https://www.facebook.com"),
        _ => settings.Issuer,
    };

    public static bool IsWebProvider(string name) => WebProviders.Contains(name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Start-up check: each entry names its setting, so a typo stops the service instead of hiding a button.</summary>
    public static IEnumerable<string> Problems(IReadOnlyDictionary<string, ExternalProviderSettings> providers, bool development)
    {
        foreach (var (name, settings) in providers)
        {
            var key = $"{SectionName}:{name}";
            if (name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                yield return $"{key}: a provider name of letters, digits, '-' or '_' (at most 64).";
            }
            if (string.IsNullOrWhiteSpace(settings.ClientId))
            {
                yield return $"{key}:ClientId is required.";
            }
            if (IsWebProvider(name))
            {
                if (string.IsNullOrWhiteSpace(settings.ClientSecret))
                {
                    yield return $"{key}:ClientSecret is required.";
                }
                continue;
            }
            if (settings.Issuer is not { IsAbsoluteUri: true } issuer || !string.IsNullOrEmpty(issuer.Query) || !string.IsNullOrEmpty(issuer.Fragment))
            {
                yield return $"{key}:Issuer must be the provider's absolute issuer URL.";
            }
            else if (issuer.Scheme != Uri.UriSchemeHttps && !(development && issuer.IsLoopback))
            {
                yield return $"{key}:Issuer must be https (plain http only for a loopback provider in Development).";
            }
        }
    }
}
