using System.Text.Json;
using OpenIddict.Abstractions;
using OpenIddict.EntityFrameworkCore.Models;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.Token.Model;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace SecurePlatform.Token.Infrastructure;

/// <summary>One client from section <c>Clients:{id}</c>.</summary>
public sealed class ClientSettings
{
    /// <summary>Confidential clients have one; public clients (apps) have none.</summary>
    public string? Secret { get; set; }

    /// <summary>
    /// More secrets accepted at the same time, for rotation without downtime: add the new one here, deploy it to
    /// the client, then make it <see cref="Secret"/> and remove the old one.
    /// </summary>
    public List<string> Secrets { get; set; } = [];

    internal IEnumerable<string> AcceptedSecrets => new[] { Secret }.Concat(Secrets).Where(s => !string.IsNullOrEmpty(s))!;

    /// <summary>Grant types besides the defaults of its kind (client_credentials for confidential clients).</summary>
    public List<string> GrantTypes { get; set; } = [];

    /// <summary>A public app of the platform's own, whose tokens a sign-in may issue.</summary>
    public bool FirstParty { get; set; }

    /// <summary>A resource server that may call the introspection endpoint.</summary>
    public bool Introspection { get; set; }

    public string? DisplayName { get; set; }

    /// <summary>Where the authorization code flow may return (exact match). Any makes it an OAuth/OIDC client.</summary>
    public List<string> RedirectUris { get; set; } = [];

    /// <summary>Where end-session may return after signing out (exact match).</summary>
    public List<string> PostLogoutRedirectUris { get; set; } = [];

    /// <summary>Scopes the client may ask for in the code flow, besides openid (default: profile, email, offline_access, api).</summary>
    public List<string>? Scopes { get; set; }

    /// <summary>
    /// RFC 9126: the client must push its authorization requests to <c>/connect/par</c> first; a plain
    /// authorization request from it is refused.
    /// </summary>
    public bool RequirePushedAuthorization { get; set; }

    /// <summary>Whether users are asked to consent. Default: yes for third-party clients, no for first-party ones.</summary>
    public bool? RequireConsent { get; set; }

    /// <summary>
    /// OpenID Connect Back-Channel Logout: where token-service posts a logout token when one of the client's
    /// sessions ends (sign-out, revocation, a disabled account). None: the client is not told.
    /// </summary>
    public string? BackchannelLogoutUri { get; set; }

    internal static readonly IReadOnlyList<string> DefaultCodeFlowScopes =
        [OpenIddictConstants.Scopes.Profile, OpenIddictConstants.Scopes.Email, OpenIddictConstants.Scopes.OfflineAccess, ClientRegistrations.ApiScope];

    /// <summary>Problems with the settings, each naming the setting (checked at start-up).</summary>
    internal IEnumerable<string> Problems(string clientId)
    {
        foreach (var uri in RedirectUris)
        {
            if (RedirectUriRules.Problem(uri) is { } problem)
            {
                yield return $"Clients:{clientId}:RedirectUris '{uri}' {problem}.";
            }
        }
        foreach (var uri in PostLogoutRedirectUris)
        {
            if (RedirectUriRules.Problem(uri) is { } problem)
            {
                yield return $"Clients:{clientId}:PostLogoutRedirectUris '{uri}' {problem}.";
            }
        }
        if (BackchannelLogoutUri is { } logoutUri && BackchannelLogout.UriProblem(logoutUri) is { } logoutProblem)
        {
            yield return $"Clients:{clientId}:BackchannelLogoutUri '{logoutUri}' {logoutProblem}.";
        }
        if (BackchannelLogoutUri is not null && RedirectUris.Count == 0)
        {
            yield return $"Clients:{clientId}:BackchannelLogoutUri needs RedirectUris: only code-flow sign-ins have sessions to log out of.";
        }
        foreach (var scope in Scopes ?? [])
        {
            if (!DefaultCodeFlowScopes.Contains(scope, StringComparer.Ordinal))
            {
                yield return $"Clients:{clientId}:Scopes '{scope}' is not a scope of this platform ({string.Join(", ", DefaultCodeFlowScopes)}).";
            }
        }
    }
}

/// <summary>
/// Registers the clients of configuration section <c>Clients</c> at start-up (create or update), plus the
/// built-ins: <c>platform-app</c> (public, first-party, refresh) and <c>auth-service</c> (the sign-in grant).
/// </summary>
public sealed class ClientRegistrations(IServiceScopeFactory scopes, IConfiguration configuration, ILogger<ClientRegistrations> logger) : IHostedService
{
    public const string FirstPartyProperty = "first_party";

    /// <summary>
    /// Where a registration comes from: <see cref="FromConfiguration"/> (re-applied at every start-up, so the admin
    /// API leaves it alone) or <see cref="FromAdminApi"/> (lives only in tokendb; start-up never touches it).
    /// </summary>
    public const string SourceProperty = "source";
    public const string FromConfiguration = "configuration";
    public const string FromAdminApi = "admin-api";

    /// <summary>The platform's own clients: never changed or deleted through the admin API.</summary>
    public static readonly IReadOnlySet<string> BuiltIn = new HashSet<string>(StringComparer.Ordinal) { Protocol.Clients.AuthService, Protocol.Clients.PlatformApp };

    /// <summary>Whether start-up registers <paramref name="clientId"/> from configuration (a built-in or a <c>Clients:{id}</c> section).</summary>
    public static bool IsConfigured(IConfiguration configuration, string clientId)
        => BuiltIn.Contains(clientId) || configuration.GetSection("Clients").GetChildren().Any(c => string.Equals(c.Key, clientId, StringComparison.Ordinal));
    public const string ApiScope = "api";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var clients = configuration.GetSection("Clients").GetChildren()
            .ToDictionary(c => c.Key, c => c.Get<ClientSettings>() ?? new ClientSettings(), StringComparer.Ordinal);
        clients.TryAdd(Protocol.Clients.PlatformApp, new ClientSettings { FirstParty = true, DisplayName = "SecurePlatform app" });
        if (clients.TryGetValue(Protocol.Clients.AuthService, out var auth))
        {
            auth.GrantTypes.Add(Protocol.SignInGrant.GrantType);
        }

        var problems = clients.SelectMany(c => c.Value.Problems(c.Key)).ToList();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Client registrations are invalid: " + string.Join(" ", problems));
        }

        await using var scope = scopes.CreateAsyncScope();
        var manager = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        // From the store, not the manager: the manager answers from the process-wide cache with detached
        // entities, which this scope's context could not update next to the copy its validation loads.
        var store = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationStore<OpenIddictEntityFrameworkCoreApplication>>();
        foreach (var (clientId, settings) in clients)
        {
            var descriptor = Describe(clientId, settings);
            descriptor.Properties[SourceProperty] = JsonSerializer.SerializeToElement(FromConfiguration);
            var existing = await store.FindByClientIdAsync(clientId, cancellationToken);
            if (existing is null)
            {
                await manager.CreateAsync(descriptor, cancellationToken);
            }
            else
            {
                await manager.UpdateAsync(existing, descriptor, cancellationToken);
            }
        }
        logger.LogInformation("Registered clients: {Clients}", string.Join(", ", clients.Keys));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    internal static OpenIddictApplicationDescriptor Describe(string clientId, ClientSettings settings)
    {
        var secrets = settings.AcceptedSecrets.ToList();
        var confidential = secrets.Count > 0;
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientSecret = confidential ? string.Join(ClientSecretHasher.SecretSeparator, secrets) : null,
            ClientType = confidential ? ClientTypes.Confidential : ClientTypes.Public,
            DisplayName = settings.DisplayName ?? clientId,
            Permissions = { Permissions.Endpoints.Token, Permissions.Endpoints.Revocation },
        };
        if (confidential)
        {
            descriptor.Permissions.Add(Permissions.GrantTypes.ClientCredentials);
            descriptor.Permissions.Add(Permissions.Prefixes.Scope + ApiScope);
        }
        else
        {
            descriptor.Permissions.Add(Permissions.GrantTypes.RefreshToken);
        }
        foreach (var grant in settings.GrantTypes)
        {
            descriptor.Permissions.Add(Permissions.Prefixes.GrantType + grant);
        }
        if (settings.GrantTypes.Contains(Protocol.SignInGrant.GrantType))
        {
            // offline_access needs the refresh grant permission; the refresh tokens themselves are bound to
            // the first-party app they are issued for (presenter), so this client cannot redeem them.
            descriptor.Permissions.Add(Permissions.GrantTypes.RefreshToken);
            descriptor.Permissions.Add(Permissions.Prefixes.Scope + Scopes.Profile);
        }
        if (settings.Introspection)
        {
            descriptor.Permissions.Add(Permissions.Endpoints.Introspection);
        }
        if (settings.FirstParty)
        {
            descriptor.Properties[FirstPartyProperty] = JsonSerializer.SerializeToElement(true);
        }
        if (settings.RedirectUris.Count > 0)
        {
            // The authorization code flow, PKCE required (S256 only: see AddCodeFlow), for public and confidential clients.
            descriptor.Permissions.UnionWith([
                Permissions.Endpoints.Authorization, Permissions.Endpoints.EndSession,
                Permissions.GrantTypes.AuthorizationCode, Permissions.GrantTypes.RefreshToken, Permissions.ResponseTypes.Code,
                Permissions.Prefixes.Scope + Scopes.OpenId]);
            descriptor.Permissions.UnionWith((settings.Scopes ?? ClientSettings.DefaultCodeFlowScopes).Select(s => Permissions.Prefixes.Scope + s));
            descriptor.Requirements.Add(Requirements.Features.ProofKeyForCodeExchange);
            // Any code-flow client may push its requests (RFC 9126); one registered so must.
            descriptor.Permissions.Add(Permissions.Endpoints.PushedAuthorization);
            if (settings.RequirePushedAuthorization)
            {
                descriptor.Requirements.Add(Requirements.Features.PushedAuthorizationRequests);
            }
            descriptor.RedirectUris.UnionWith(settings.RedirectUris.Select(u => new Uri(u)));
            descriptor.PostLogoutRedirectUris.UnionWith(settings.PostLogoutRedirectUris.Select(u => new Uri(u)));
            descriptor.ConsentType = (settings.RequireConsent ?? !settings.FirstParty) ? ConsentTypes.Explicit : ConsentTypes.Implicit;
            if (settings.BackchannelLogoutUri is { } logoutUri)
            {
                descriptor.Properties[BackchannelLogout.UriProperty] = JsonSerializer.SerializeToElement(logoutUri);
            }
        }
        return descriptor;
    }
}
