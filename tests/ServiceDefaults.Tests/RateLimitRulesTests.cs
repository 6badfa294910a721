using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SecurePlatform.ServiceDefaults.RateLimiting;

namespace SecurePlatform.ServiceDefaults.Tests;

/// <summary>The pure rules of the shared rate limiter: what a budget is keyed by, when a request is over, the options.</summary>
public class RateLimitRulesTests
{
    [Theory]
    [InlineData("203.0.113.9", "203.0.113.9")]
    [InlineData("::ffff:203.0.113.9", "203.0.113.9")]
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::/64")]
    public void A_client_is_its_IPv4_address_or_its_IPv6_64(string address, string partition) =>
        Assert.Equal(partition, ClientPartition.Of(IPAddress.Parse(address)));

    [Fact]
    public void Identifiers_are_hashed_to_a_fixed_width_key()
    {
        Assert.Equal(32, ClientPartition.Hash("alice@example.org").Length);
        Assert.Equal(ClientPartition.Hash("alice@example.org"), ClientPartition.Hash("alice@example.org"));
        Assert.NotEqual(ClientPartition.Hash("alice@example.org"), ClientPartition.Hash("bob@example.org"));
        Assert.Equal(32, ClientPartition.Hash(new string('x', 100_000)).Length);
    }

    [Fact]
    public void A_request_is_over_when_any_budget_is_and_waits_for_the_longest()
    {
        var options = new RateLimitingOptions();
        options.ApplyDefaults();
        (string, string)[] budgets = [(RateLimitPolicies.Token, "c:1.2.3.4"), (RateLimitPolicies.TokenIp, "1.2.3.4")];

        Assert.Null(RateLimitVerdict.Of(budgets, [new(60, TimeSpan.FromSeconds(5)), new(120, TimeSpan.FromSeconds(9))], options));
        Assert.Equal((RateLimitPolicies.TokenIp, TimeSpan.FromSeconds(9)),
            RateLimitVerdict.Of(budgets, [new(1, TimeSpan.FromSeconds(5)), new(121, TimeSpan.FromSeconds(9))], options));
        Assert.Equal((RateLimitPolicies.Token, TimeSpan.FromSeconds(30)),
            RateLimitVerdict.Of(budgets, [new(61, TimeSpan.FromSeconds(30)), new(121, TimeSpan.FromSeconds(9))], options));
        // A counter whose window just ended still asks for a second, never Retry-After: 0.
        Assert.Equal((RateLimitPolicies.Token, TimeSpan.FromSeconds(1)),
            RateLimitVerdict.Of(budgets, [new(61, TimeSpan.Zero), new(1, TimeSpan.Zero)], options));
        Assert.Equal(1, RateLimitRejection.RetryAfterSeconds(TimeSpan.FromMilliseconds(10)));
        Assert.Equal(3, RateLimitRejection.RetryAfterSeconds(TimeSpan.FromMilliseconds(2001)));
    }

    [Fact]
    public void Configuration_overrides_single_values_and_keeps_the_other_defaults()
    {
        var options = new RateLimitingOptions();
        options.Policies[RateLimitPolicies.Ceiling] = new RateLimitPolicyOptions { PermitLimit = 50 };
        options.Policies[RateLimitPolicies.Login] = new RateLimitPolicyOptions { FailOpen = true };
        options.ApplyDefaults();

        Assert.Equal(50, options.Policy(RateLimitPolicies.Ceiling).PermitLimit);
        Assert.Equal(TimeSpan.FromMinutes(1), options.Policy(RateLimitPolicies.Ceiling).Window);
        Assert.True(options.Policy(RateLimitPolicies.Ceiling).FailOpen); // the ceiling's default
        Assert.True(options.Policy(RateLimitPolicies.Login).FailOpen);
        Assert.False(options.Policy(RateLimitPolicies.Register).FailOpen);
        Assert.Empty(RateLimitingOptions.Validate(options));
        Assert.Throws<InvalidOperationException>(() => options.Policy("no-such-policy"));
    }

    [Fact]
    public void Bad_settings_name_the_setting()
    {
        var options = new RateLimitingOptions { KeyPrefix = "", Timeout = TimeSpan.Zero };
        options.Policies["login"] = new RateLimitPolicyOptions { PermitLimit = -1, Window = TimeSpan.FromMilliseconds(10) };

        var errors = RateLimitingOptions.Validate(options).ToList();

        Assert.Contains(errors, e => e.Contains("RateLimiting:KeyPrefix", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("RateLimiting:Timeout", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("RateLimiting:Policies:login:PermitLimit", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("RateLimiting:Policies:login:Window", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Production", false, false)]
    [InlineData("Production", true, true)]
    [InlineData("Development", false, true)]
    public void The_limiter_can_be_switched_off_for_a_benchmark_but_never_in_production(string environment, bool enabled, bool accepted)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = environment, DisableDefaults = true });
        builder.Configuration["RateLimiting:Enabled"] = enabled ? "true" : "false";
        builder.AddPlatformRateLimiting();
        using var host = builder.Build();
        RateLimitingOptions Read() => host.Services.GetRequiredService<IOptions<RateLimitingOptions>>().Value;

        if (accepted)
        {
            Assert.Equal(enabled, Read().Enabled);
        }
        else
        {
            Assert.Contains("RateLimiting:Enabled=false", Assert.Throws<OptionsValidationException>(Read).Message);
        }
    }
}
