using System.Net.Http.Json;
using System.Text.Json;
using SecurePlatform.TestSupport;

namespace SecurePlatform.EndToEnd.Tests;

/// <summary>GET /profiles/me/export gathers the caller's data from the four services as real processes.</summary>
[Collection(PlatformCollection.Name)]
public class ExportJourneyTests(PlatformFixture fixture)
{
    private Platform P => fixture.Platform;

    [Fact]
    public async Task The_export_holds_the_profile_the_sessions_and_the_callers_own_audit_events_and_nobody_elses()
    {
        var user = User.New(P);
        await user.RegisterAsync();
        var first = await user.LoginAsync("export-journey/1.0");
        var tokens = await user.LoginAsync("export-journey/1.0");
        var other = User.New(P);
        await other.RegisterAsync();
        var otherTokens = await other.LoginAsync("someone-else/1.0");
        var profile = User.Http(P.Profile, tokens.Access);
        (await profile.PutAsJsonAsync("/profiles/me", new { displayName = "Export Me", phone = "+4930901820" })).EnsureSuccessStatusCode();
        var sub = tokens.Claims.GetProperty("sub").GetString()!;

        // The audit trail is eventually consistent (outbox → broker → audit-service): wait for the second sign-in.
        JsonElement export = default;
        await Eventually.HoldsAsync(async () =>
        {
            var response = await profile.GetAsync("/profiles/me/export");
            export = await HttpAssert.OkJsonAsync<JsonElement>(response);
            return export.GetProperty("complete").GetBoolean()
                && export.GetProperty("auditEvents").EnumerateArray().Count(e => e.GetProperty("type").GetString() == "LoginSucceeded") >= 2;
        }, TimeSpan.FromSeconds(30), "a complete export with both sign-ins in its audit events");

        Assert.True(export.GetProperty("complete").GetBoolean(), export.GetProperty("sources").ToString());
        Assert.Equal("Export Me", export.GetProperty("profile").GetProperty("displayName").GetString());
        Assert.Equal("+4930901820", export.GetProperty("profile").GetProperty("phone").GetProperty("e164").GetString());
        // The account part is auth-service's own answer (GET /auth/account with the caller's token).
        Assert.Equal("ok", export.GetProperty("sources").GetProperty("auth-service").GetString());
        var account = export.GetProperty("account");
        Assert.Equal(sub, account.GetProperty("sub").GetString());
        Assert.Equal(user.Email, account.GetProperty("email").GetString());
        Assert.False(account.GetProperty("emailVerified").GetBoolean());
        Assert.Equal(["user"], account.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.False(account.GetProperty("mfaEnabled").GetBoolean());
        Assert.True(account.GetProperty("hasPassword").GetBoolean());
        Assert.False(account.GetProperty("passwordChangeRequired").GetBoolean());
        Assert.True(account.TryGetProperty("createdAt", out _));
        Assert.DoesNotContain(other.Email, export.ToString());
        var sessions = export.GetProperty("sessions").ToString();
        Assert.Contains(tokens.Claims.GetProperty("sid").GetString()!, sessions);
        Assert.Contains(first.Claims.GetProperty("sid").GetString()!, sessions);
        Assert.DoesNotContain(otherTokens.Claims.GetProperty("sid").GetString()!, export.ToString());
        Assert.DoesNotContain("someone-else/1.0", export.ToString());
        Assert.DoesNotContain(user.Password, export.ToString());
        Assert.DoesNotContain(tokens.Refresh, export.ToString());
    }
}
