using System.Net;
using System.Net.Http.Headers;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.TestSupport;
using Xunit.Abstractions;

namespace SecurePlatform.Token.Tests;

/// <summary>
/// Concurrent redemptions of one refresh token, released together behind a barrier on dedicated threads with
/// connections opened beforehand, over many rounds: the window between two redemptions is narrow, so one
/// lucky round proves nothing.
/// </summary>
public class RefreshRaceTests(TokenServiceFactory token, ITestOutputHelper output) : IClassFixture<TokenServiceFactory>
{
    public static TheoryData<int, int> Races => new() { { 2, 60 }, { 20, 8 } };

    [Theory]
    [MemberData(nameof(Races))]
    public async Task Of_concurrent_redemptions_exactly_one_succeeds_and_the_others_revoke_the_session(int contenders, int rounds)
    {
        var clients = Enumerable.Range(0, contenders).Select(_ => new HttpClient { BaseAddress = new Uri(token.BaseUrl) }).ToArray();
        try
        {
            var doubleSpends = 0;
            for (var round = 0; round < rounds; round++)
            {
                var sub = "race-" + Guid.NewGuid().ToString("N")[..12];
                var issued = await token.SignInAsync(sub);
                await Task.WhenAll(clients.Select(c => c.GetAsync("/alive"))); // warm connections: the race is in the server

                var responses = Release(clients, issued.RefreshToken!);

                var winners = responses.Where(r => r.Status == HttpStatusCode.OK).ToList();
                if (winners.Count > 1)
                {
                    doubleSpends++; // counted over every round, so a failure says how often, not just that
                    continue;
                }
                Assert.Single(winners);
                Assert.All(responses.Where(r => r.Status != HttpStatusCode.OK), r =>
                {
                    Assert.Equal(HttpStatusCode.BadRequest, r.Status);
                    Assert.Contains("invalid_grant", r.Body, StringComparison.Ordinal);
                });

                // The losers were replays: the whole session is revoked, the winner's tokens with it.
                var session = token.WithDb(db => db.Sessions.Single(s => s.Id == Guid.Parse(issued.Sid)));
                Assert.Equal(RevocationReasons.RefreshTokenReuse, session.RevokedReason);
                Assert.True(await token.Redis.KeyExistsAsync(SessionRevocation.SidKey(issued.Sid)));
                var winner = System.Text.Json.JsonSerializer.Deserialize<TokenResponse>(winners[0].Body)!;
                Assert.Equal(HttpStatusCode.BadRequest, (await token.RefreshAsync(winner.RefreshToken!)).StatusCode);
                using var request = new HttpRequestMessage(HttpMethod.Get, "/sessions");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", winner.AccessToken);
                Assert.Equal(HttpStatusCode.Unauthorized, (await token.Http.SendAsync(request)).StatusCode);
            }
            output.WriteLine($"{rounds} rounds of {contenders}: {doubleSpends} with more than one success");
            Assert.True(doubleSpends == 0, $"{doubleSpends} of {rounds} rounds of {contenders} concurrent redemptions had more than one success");
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    private static (HttpStatusCode Status, string Body)[] Release(HttpClient[] clients, string refreshToken)
    {
        using var barrier = new Barrier(clients.Length);
        var results = new (HttpStatusCode, string)[clients.Length];
        var threads = clients.Select((client, i) => new Thread(() =>
        {
            using var content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token", ["client_id"] = "platform-app", ["refresh_token"] = refreshToken,
            });
            barrier.SignalAndWait();
            using var response = client.PostAsync("/connect/token", content).GetAwaiter().GetResult();
            results[i] = (response.StatusCode, response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        return results;
    }
}
