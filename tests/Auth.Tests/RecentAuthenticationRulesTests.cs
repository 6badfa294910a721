using System.Security.Claims;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.Security;

namespace SecurePlatform.Auth.Tests;

/// <summary>The recent-authentication rule at its edges, without a host.</summary>
public class RecentAuthenticationRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(10);

    [Theory]
    [InlineData(0, true)]
    [InlineData(600, true)]    // exactly the window
    [InlineData(601, false)]   // one second too old
    [InlineData(-30, true)]    // within the tolerated clock skew
    [InlineData(-31, false)]   // "signed in" in the future
    public void A_sign_in_is_recent_only_within_the_window(int secondsAgo, bool recent) =>
        Assert.Equal(recent, RecentAuthentication.IsRecent(Now.AddSeconds(-secondsAgo), Now, Window));

    [Fact]
    public void An_unknown_sign_in_time_is_never_recent() => Assert.False(RecentAuthentication.IsRecent(null, Now, Window));

    [Theory]
    [InlineData("1764676800", true)]
    [InlineData("-5", false)]
    [InlineData("1.5", false)]
    [InlineData("soon", false)]
    public void Auth_time_is_read_as_whole_epoch_seconds(string value, bool readable) =>
        Assert.Equal(readable, RecentAuthentication.AuthTimeOf(new ClaimsPrincipal(new ClaimsIdentity([new Claim("auth_time", value)]))) is not null);

    [Theory]
    [InlineData("00:10:00", true)]
    [InlineData("00:00:00", false)]
    [InlineData("-00:01:00", false)]
    [InlineData("2.00:00:00", false)]
    public void The_window_must_be_positive_and_at_most_a_day(string window, bool valid) =>
        Assert.Equal(valid, !SecurityOptions.Validate(new SecurityOptions { RecentAuthenticationWindow = TimeSpan.Parse(window, System.Globalization.CultureInfo.InvariantCulture) }).Any());
}
