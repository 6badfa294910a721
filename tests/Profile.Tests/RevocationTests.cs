using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.TestSupport;
using StackExchange.Redis;

namespace SecurePlatform.Profile.Tests;

/// <summary>The revocation check of ServiceDefaults, against the real Redis, as every service runs it.</summary>
public class RevocationTests(ProfileFactory profile) : IClassFixture<ProfileFactory>
{
    private static readonly TimeSpan KeyLifetime = TimeSpan.FromMinutes(17);

    private SessionRevocationWriter Writer => new(profile.Services.GetRequiredService<IConnectionMultiplexer>());

    [Fact]
    public async Task A_revoked_session_is_refused_on_the_next_request_even_after_it_was_cached_as_clean()
    {
        var sid = Guid.CreateVersion7().ToString();
        var client = profile.ClientWith(TestTokens.Issue("rev-" + Guid.NewGuid().ToString("N")[..8], sid));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/profiles/me")).StatusCode); // now cached as clean

        await Writer.RevokeSessionsAsync([sid], KeyLifetime);
        var clock = Stopwatch.StartNew();
        var lag = await Eventually.HoldsAsync(async () => (await client.GetAsync("/profiles/me")).StatusCode == HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(1), "refused within the second");

        Assert.True(lag < TimeSpan.FromSeconds(1), $"took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Revoking_a_user_refuses_sessions_begun_before_and_accepts_one_begun_after_in_the_same_second()
    {
        var sub = "rev-" + Guid.NewGuid().ToString("N")[..8];
        var before = profile.ClientWith(TestTokens.Issue(sub, Guid.CreateVersion7().ToString()));
        Assert.Equal(HttpStatusCode.OK, (await before.GetAsync("/profiles/me")).StatusCode);
        await Task.Delay(5);

        var revokedAt = DateTimeOffset.UtcNow;
        await Writer.RevokeSubjectAsync(sub, [], revokedAt.ToUnixTimeMilliseconds(), KeyLifetime);
        await Task.Delay(2);
        var after = profile.ClientWith(TestTokens.Issue(sub, Guid.CreateVersion7().ToString()));

        await Eventually.HoldsAsync(async () => (await before.GetAsync("/profiles/me")).StatusCode == HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(1), "older session refused");
        Assert.Equal(HttpStatusCode.OK, (await after.GetAsync("/profiles/me")).StatusCode);
    }

    [Fact]
    public async Task Other_sessions_of_the_same_user_are_not_touched_by_revoking_one()
    {
        var sub = "rev-" + Guid.NewGuid().ToString("N")[..8];
        var revoked = Guid.CreateVersion7().ToString();
        var kept = profile.ClientWith(TestTokens.Issue(sub, Guid.CreateVersion7().ToString()));

        await Writer.RevokeSessionsAsync([revoked], KeyLifetime);

        Assert.Equal(HttpStatusCode.Unauthorized, (await profile.ClientWith(TestTokens.Issue(sub, revoked)).GetAsync("/profiles/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await kept.GetAsync("/profiles/me")).StatusCode);
    }

    [Theory]
    [InlineData(false, HttpStatusCode.ServiceUnavailable)] // "could not check" is not "revoked" (issue 16)
    [InlineData(true, HttpStatusCode.OK)]
    public async Task When_redis_cannot_be_asked_the_check_fails_closed_unless_configured_open(bool failOpen, HttpStatusCode expected)
    {
        await using var isolated = new ProfileFactory(new()
        {
            ["ConnectionStrings:redis"] = "127.0.0.1:1,connectTimeout=200,syncTimeout=200,asyncTimeout=200",
            ["Auth:Revocation:FailOpen"] = failOpen.ToString(),
        });

        var response = await isolated.ClientWith(TestTokens.Issue("rev-" + Guid.NewGuid().ToString("N")[..8])).GetAsync("/profiles/me");

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public void A_uuid_v7_session_id_carries_its_creation_millisecond()
    {
        var now = DateTimeOffset.UtcNow;
        Assert.Equal(now.ToUnixTimeMilliseconds(), SessionRevocation.SessionCreatedMs(Guid.CreateVersion7(now).ToString()));
        Assert.Equal(0, SessionRevocation.SessionCreatedMs(Guid.NewGuid().ToString()));
        Assert.True(SessionRevocation.IsRevoked(false, now.ToUnixTimeMilliseconds(), now.ToUnixTimeMilliseconds() - 1));
        Assert.False(SessionRevocation.IsRevoked(false, now.ToUnixTimeMilliseconds(), now.ToUnixTimeMilliseconds()));
    }
}
