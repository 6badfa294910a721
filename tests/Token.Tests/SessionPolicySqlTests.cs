using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Model;

namespace SecurePlatform.Token.Tests;

/// <summary>
/// The usability rule exists as C# (<see cref="SessionPolicy.IsUsable"/>) and as SQL (<see cref="SessionPolicy.UsableSql"/>,
/// used by the atomic rotation and the session list). Both must answer alike on every edge, on real PostgreSQL.
/// </summary>
public class SessionPolicySqlTests(TokenServiceFactory token) : IClassFixture<TokenServiceFactory>
{
    private static readonly TimeSpan Idle = TimeSpan.FromDays(7);

    [Fact]
    public async Task The_sql_rule_and_the_code_rule_agree_on_every_edge()
    {
        var policy = new SessionPolicy(Idle, TimeSpan.FromDays(30));
        var now = new DateTimeOffset(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
        var tick = TimeSpan.FromMilliseconds(1);
        var subject = "policy-" + Guid.NewGuid().ToString("N")[..10];
        var cases = new List<Session>();
        foreach (var revoked in new DateTimeOffset?[] { null, now - tick })
        {
            foreach (var expires in new[] { now - tick, now, now + tick })
            {
                foreach (var lastUsed in new[] { now - Idle - tick, now - Idle, now - Idle + tick, now })
                {
                    cases.Add(new Session
                    {
                        Id = Guid.CreateVersion7(), Subject = subject, ClientId = "platform-app", CreatedAt = now - TimeSpan.FromDays(1),
                        LastUsedAt = lastUsed, ExpiresAt = expires, RevokedAt = revoked,
                    });
                }
            }
        }
        await using var scope = token.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
        db.Sessions.AddRange(cases);
        await db.SaveChangesAsync();

        var usableInSql = await db.Sessions.FromSqlRaw(
                $"SELECT * FROM sessions WHERE subject = @subject AND {SessionPolicy.UsableSql}",
                new NpgsqlParameter("subject", subject), new NpgsqlParameter("now", now), new NpgsqlParameter("idle_cutoff", policy.IdleCutoff(now)))
            .Select(s => s.Id).ToListAsync();

        var usableInCode = cases.Where(s => policy.IsUsable(s, now)).Select(s => s.Id);
        Assert.Equal(usableInCode.Order(), usableInSql.Order());
        Assert.Equal(2, usableInSql.Count); // not revoked, expiring after now, used after the idle cutoff: two of the cases
    }
}
