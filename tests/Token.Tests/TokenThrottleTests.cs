using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.RateLimiting;
using SecurePlatform.TestSupport;
using SecurePlatform.Token.Infrastructure;

namespace SecurePlatform.Token.Tests;

/// <summary>token-service with small <c>/connect/token</c> budgets.</summary>
public sealed class ThrottledTokenServiceFactory() : TokenServiceFactory("throttle", new()
{
    ["RateLimiting:Policies:token:PermitLimit"] = PerClient.ToString(System.Globalization.CultureInfo.InvariantCulture),
    ["RateLimiting:Policies:token-ip:PermitLimit"] = PerIp.ToString(System.Globalization.CultureInfo.InvariantCulture),
})
{
    public const int PerClient = 3;
    public const int PerIp = 5;
}

public class TokenThrottleTests(ThrottledTokenServiceFactory token) : IClassFixture<ThrottledTokenServiceFactory>
{
    private static FormUrlEncodedContent ClientCredentials(string clientId, string secret) => new(new Dictionary<string, string>
    {
        ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = secret,
    });

    [Fact]
    public async Task Client_secret_guessing_is_limited_per_client_id_and_IP_then_per_IP_with_the_platform_429()
    {
        token.EnsureStarted();
        using var client = SourceAddressClient.Create(new Uri(token.BaseUrl), "127.0.7.1");
        for (var i = 0; i < ThrottledTokenServiceFactory.PerClient; i++)
        {
            var guess = await client.PostAsync("/connect/token", ClientCredentials("worker", "guess-" + i));
            Assert.Equal(HttpStatusCode.Unauthorized, guess.StatusCode);
        }
        // Over the client's budget from this IP: refused before the secret is looked at, the right one included.
        var refused = await client.PostAsync("/connect/token", ClientCredentials("worker", TokenServiceFactory.ServiceSecret));
        var problem = await HttpAssert.IsProblemAsync(refused, HttpStatusCode.TooManyRequests);
        Assert.Equal(RateLimitRejection.Title, problem.GetProperty("title").GetString());
        Assert.InRange((int)refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);
        HttpAssert.HasSecurityHeaders(refused);
        // The client id in a Basic header is the same budget.
        using var basic = new HttpRequestMessage(HttpMethod.Post, "/connect/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }),
        };
        basic.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("worker:" + TokenServiceFactory.ServiceSecret)));
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.SendAsync(basic)).StatusCode);

        // Another client from the same IP has a budget of its own, until the per-IP one (5) is spent.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.PostAsync("/connect/token", ClientCredentials("resource-api", TokenServiceFactory.ResourceSecret))).StatusCode);
        using var elsewhere = SourceAddressClient.Create(new Uri(token.BaseUrl), "127.0.7.2");
        Assert.Equal(HttpStatusCode.OK, (await elsewhere.PostAsync("/connect/token", ClientCredentials("resource-api", TokenServiceFactory.ResourceSecret))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await elsewhere.PostAsync("/connect/token", ClientCredentials("worker", TokenServiceFactory.ServiceSecret))).StatusCode);

        var events = await token.WithDbAsync(db => db.Set<OutboxMessage>().Where(m => m.Type == "SecurePlatform.Contracts.RequestThrottled").ToListAsync());
        var mine = events.Select(m => JsonSerializer.Deserialize<RequestThrottled>(m.Payload, JsonSerializerOptions.Web)!).Where(e => e.IpAddress == "127.0.7.1").ToList();
        Assert.Contains(mine, e => e.Policy == RateLimitPolicies.Token && e.SourceService == "token-service");
        Assert.True(mine.Count <= 2, $"{mine.Count} events for one IP"); // one per policy and IP per interval
    }

    [Fact]
    public async Task The_platform_sign_in_grant_of_auth_service_is_limited_at_auth_service_not_here()
    {
        token.EnsureStarted();
        for (var i = 0; i < ThrottledTokenServiceFactory.PerIp + 2; i++)
        {
            await token.SignInAsync("user-" + Guid.NewGuid().ToString("N")); // throws unless 200
        }
    }

    [Theory]
    [InlineData("Basic d29ya2VyOnNlY3JldA==", "worker")]
    [InlineData("basic bXklMjBjbGllbnQ6cw==", "my client")]
    [InlineData("Basic not-base64!", null)]
    [InlineData("Basic OnNlY3JldA==", null)]
    [InlineData("Bearer abc", null)]
    [InlineData("", null)]
    public void The_client_id_of_a_Basic_header(string header, string? expected) =>
        Assert.Equal(expected, TokenEndpointBudgets.BasicClientId(header));
}
