using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;
using SecurePlatform.Token.Model;

namespace SecurePlatform.Token.Infrastructure;

/// <summary>
/// OpenIddict's application manager with client secrets stored as keyed SHA-256 instead of PBKDF2, several
/// accepted secrets per client, and hashes made under a previous hash key upgraded on their next use.
/// </summary>
public sealed partial class KeyedHashApplicationManager<TApplication>(
    IOpenIddictApplicationCache<TApplication> cache,
    ILogger<OpenIddictApplicationManager<TApplication>> logger,
    IOptionsMonitor<OpenIddictCoreOptions> options,
    IOpenIddictApplicationStore<TApplication> store,
    ClientSecretHasher hasher,
    TokenDbContext db)
    : OpenIddictApplicationManager<TApplication>(cache, logger, options, store) where TApplication : class
{
    private readonly ILogger _logger = logger;

    protected override ValueTask<string> ObfuscateClientSecretAsync(string secret, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(hasher.HashAll(secret));

    protected override ValueTask<bool> ValidateClientSecretAsync(string secret, string comparand, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(hasher.Verify(secret, comparand));

    public override async ValueTask<bool> ValidateClientSecretAsync(TApplication application, string secret, CancellationToken cancellationToken = default)
    {
        if (!await base.ValidateClientSecretAsync(application, secret, cancellationToken))
        {
            return false;
        }
        if (await Store.GetClientSecretAsync(application, cancellationToken) is { } stored && hasher.Upgrade(secret, stored) is { } upgraded)
        {
            // One statement on the row, guarded by the old value: the application passed in may be a cached,
            // detached copy this scope cannot track, and a concurrent upgrade must not be overwritten.
            var clientId = await Store.GetClientIdAsync(application, cancellationToken);
            var changed = await db.Database.ExecuteSqlAsync(
                $"""UPDATE "OpenIddictApplications" SET client_secret = {upgraded} WHERE client_id = {clientId} AND client_secret = {stored}""",
                cancellationToken);
            if (changed == 1)
            {
                await Store.SetClientSecretAsync(application, upgraded, cancellationToken); // the cached copy too
                LogUpgraded(clientId ?? "?");
            }
        }
        return true;
    }

    /// <summary>Exact match, or a native app's loopback redirect on another port (<see cref="RedirectUriRules.LoopbackMatches"/>).</summary>
    public override async ValueTask<bool> ValidateRedirectUriAsync(TApplication application, string uri, CancellationToken cancellationToken = default)
    {
        if (await base.ValidateRedirectUriAsync(application, uri, cancellationToken))
        {
            return true;
        }
        return (await GetRedirectUrisAsync(application, cancellationToken)).Any(registered => RedirectUriRules.LoopbackMatches(registered, uri));
    }

    /// <summary>The same rule for where end-session may return.</summary>
    public override async ValueTask<bool> ValidatePostLogoutRedirectUriAsync(TApplication application, string uri, CancellationToken cancellationToken = default)
    {
        if (await base.ValidatePostLogoutRedirectUriAsync(application, uri, cancellationToken))
        {
            return true;
        }
        return (await GetPostLogoutRedirectUrisAsync(application, cancellationToken)).Any(registered => RedirectUriRules.LoopbackMatches(registered, uri));
    }

    /// <summary>
    /// End-session without a client_id finds the client by its post-logout URI: a loopback one on another port is
    /// found too (a scan of the clients, only for loopback http URIs, which only native apps register).
    /// </summary>
    public override async IAsyncEnumerable<TApplication> FindByPostLogoutRedirectUriAsync(
        string uri, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var found = false;
        await foreach (var application in base.FindByPostLogoutRedirectUriAsync(uri, cancellationToken))
        {
            found = true;
            yield return application;
        }
        if (found || !Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || parsed.Scheme != "http" || !parsed.IsLoopback)
        {
            yield break;
        }
        await foreach (var application in ListAsync(count: null, offset: null, cancellationToken))
        {
            if ((await GetPostLogoutRedirectUrisAsync(application, cancellationToken)).Any(registered => RedirectUriRules.LoopbackMatches(registered, uri)))
            {
                yield return application;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Client {ClientId}: secret hash moved to the current hash key")]
    private partial void LogUpgraded(string clientId);
}
