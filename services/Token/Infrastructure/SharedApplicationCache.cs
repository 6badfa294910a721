using System.Runtime.CompilerServices;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using SecurePlatform.Token.Model;

namespace SecurePlatform.Token.Infrastructure;

/// <summary>
/// Client applications cached for the whole process, replacing OpenIddict's per-request cache: without it
/// every token request read its client from PostgreSQL, a large share of a client_credentials grant's cost
/// (measured in bench/README.md). Entries live <see cref="TokenOptions.ClientCacheDuration"/>;
/// a change made through this replica's manager drops them at once, one made by another replica is seen
/// when they expire. The admin clients API (<c>Apis/AdminClientsApi.cs</c>) relies on exactly that: its change is
/// live on the replica that made it at once (it evicts again after its commit, so a request between the manager's
/// eviction and the commit cannot keep the old row cached), and on every other replica within the cache duration — a
/// deleted client or a withdrawn secret may still be accepted there until then; misses are never cached, so a new
/// client works everywhere at once. Lookups by redirect URI are not cached (they only serve interactive flows).
/// The cached entities are detached: OpenIddict only reads them, and an update attaches them to its own context.
/// </summary>
public sealed class SharedApplicationCache<TApplication>(IServiceScopeFactory scopes, IOptions<TokenOptions> options)
    : IOpenIddictApplicationCache<TApplication>, IDisposable where TApplication : class
{
    private readonly MemoryCache _cache = new(new MemoryCacheOptions());
    private readonly TimeSpan _duration = options.Value.ClientCacheDuration;

    public ValueTask<TApplication?> FindByClientIdAsync(string identifier, CancellationToken cancellationToken)
        => FindAsync(("client_id", identifier), (store, ct) => store.FindByClientIdAsync(identifier, ct), cancellationToken);

    public ValueTask<TApplication?> FindByIdAsync(string identifier, CancellationToken cancellationToken)
        => FindAsync(("id", identifier), (store, ct) => store.FindByIdAsync(identifier, ct), cancellationToken);

    public IAsyncEnumerable<TApplication> FindByPostLogoutRedirectUriAsync(string uri, CancellationToken cancellationToken)
        => QueryAsync((store, ct) => store.FindByPostLogoutRedirectUriAsync(uri, ct), cancellationToken);

    public IAsyncEnumerable<TApplication> FindByRedirectUriAsync(string uri, CancellationToken cancellationToken)
        => QueryAsync((store, ct) => store.FindByRedirectUriAsync(uri, ct), cancellationToken);

    /// <summary>Called by the manager after a create or update: forget everything (changes are rare).</summary>
    public ValueTask AddAsync(TApplication application, CancellationToken cancellationToken)
    {
        _cache.Clear();
        return default;
    }

    public ValueTask RemoveAsync(TApplication application, CancellationToken cancellationToken)
    {
        _cache.Clear();
        return default;
    }

    public void Dispose() => _cache.Dispose();

    private ValueTask<TApplication?> FindAsync(
        (string By, string Value) key,
        Func<IOpenIddictApplicationStore<TApplication>, CancellationToken, ValueTask<TApplication?>> find,
        CancellationToken cancellationToken)
    {
        return _cache.TryGetValue(key, out TApplication? cached) ? new(cached) : new(LoadAsync());

        async Task<TApplication?> LoadAsync()
        {
            await using var scope = scopes.CreateAsyncScope();
            var application = await find(scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationStore<TApplication>>(), cancellationToken);
            // Misses are not cached: a client registered by another replica is usable here at once.
            if (application is not null)
            {
                _cache.Set(key, application, _duration);
            }
            return application;
        }
    }

    private async IAsyncEnumerable<TApplication> QueryAsync(
        Func<IOpenIddictApplicationStore<TApplication>, CancellationToken, IAsyncEnumerable<TApplication>> query,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var store = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationStore<TApplication>>();
        await foreach (var application in query(store, cancellationToken))
        {
            yield return application;
        }
    }
}
