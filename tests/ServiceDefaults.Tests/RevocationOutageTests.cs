using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly.CircuitBreaker;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.Health;
using StackExchange.Redis;

namespace SecurePlatform.ServiceDefaults.Tests;

/// <summary>"Could not check" is not "revoked": the revocation check against a Redis that is not there.</summary>
public class RevocationOutageTests
{
    private static async Task<RevocationCache> UnreachableAsync(bool failOpen = false)
    {
        var options = ConfigurationOptions.Parse("127.0.0.1:1"); // nothing listens on port 1
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 200;
        var redis = await ConnectionMultiplexer.ConnectAsync(options);
        return new RevocationCache(redis, Options.Create(new RevocationOptions { FailOpen = failOpen }), NullLogger<RevocationCache>.Instance);
    }

    [Fact]
    public async Task An_unreachable_store_answers_unknown_at_once_never_revoked()
    {
        var cache = await UnreachableAsync();
        var sid = Guid.CreateVersion7().ToString();

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(RevocationState.Unknown, await cache.CheckAsync(sid, "user", CancellationToken.None));
        }

        Assert.False(cache.IsAvailable);
        // Each waiting for the 200 ms connect timeout would take 4 s; the margin below that is for a busy CI host.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"20 checks took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Fail_closed_throws_unavailable_and_fail_open_lets_the_token_through()
    {
        var closed = await UnreachableAsync();
        await Assert.ThrowsAsync<RevocationStoreUnavailableException>(async () => await closed.IsRevokedAsync(Guid.CreateVersion7().ToString(), "user", CancellationToken.None));

        var open = await UnreachableAsync(failOpen: true);
        Assert.False(await open.IsRevokedAsync(Guid.CreateVersion7().ToString(), "user", CancellationToken.None));
    }

    [Fact]
    public void Outages_are_told_apart_from_bugs_and_constraint_violations()
    {
        Assert.True(DependencyOutage.IsOutage(new NpgsqlException("refused", new System.Net.Sockets.SocketException(111))));
        Assert.True(DependencyOutage.IsOutage(new DbUpdateException("save", new NpgsqlException("broken", new IOException("reset")))));
        Assert.True(DependencyOutage.IsOutage(new InvalidOperationException("transient", new RedisConnectionException(ConnectionFailureType.UnableToConnect, "down"))));
        Assert.True(DependencyOutage.IsOutage(new RevocationStoreUnavailableException()));
        Assert.True(DependencyOutage.IsOutage(new BrokenCircuitException()));

        Assert.False(DependencyOutage.IsOutage(new PostgresException("duplicate key", "ERROR", "ERROR", "23505")));
        Assert.False(DependencyOutage.IsOutage(new InvalidOperationException("a bug")));
        Assert.False(DependencyOutage.IsOutage(null));
    }
}
