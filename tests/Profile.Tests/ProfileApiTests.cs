using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Messaging;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Profile.Tests;

public class ProfileApiTests(ProfileFactory profile) : IClassFixture<ProfileFactory>
{
    private static string NewUser() => "user-" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task A_profile_is_created_on_first_read_and_changed_by_its_owner_with_an_event_naming_the_field()
    {
        var sub = NewUser();
        var client = profile.ClientWith(TestTokens.Issue(sub));

        var created = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync("/profiles/me"));
        var updated = await client.PutAsJsonAsync("/profiles/me", new { displayName = "Ada Lovelace" });

        Assert.Equal(sub, created.GetProperty("sub").GetString());
        Assert.Equal("Ada Lovelace", (await HttpAssert.OkJsonAsync<JsonElement>(updated)).GetProperty("displayName").GetString());
        HttpAssert.HasSecurityHeaders(updated);
        Assert.Equal("no-store", updated.Headers.CacheControl?.ToString());
        var evt = profile.WithDb(db => db.Set<OutboxMessage>().AsEnumerable().Single(m => m.Type.EndsWith("ProfileUpdated") && m.Payload.Contains(sub)));
        Assert.Contains("displayName", evt.Payload);
        Assert.DoesNotContain("Ada Lovelace", evt.Payload); // names, never values
    }

    [Theory]
    [InlineData("")]
    [InlineData(" padded ")]
    [InlineData("line\nbreak")]
    [InlineData("\u2028separator")]
    public async Task An_invalid_display_name_is_a_400_naming_the_field_and_changes_nothing(string displayName)
    {
        var sub = NewUser();
        var client = profile.ClientWith(TestTokens.Issue(sub));
        await client.PutAsJsonAsync("/profiles/me", new { displayName = "Before" });

        var response = await client.PutAsJsonAsync("/profiles/me", new { displayName });

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("displayName", out _));
        Assert.Equal("Before", profile.WithDb(db => db.Profiles.Single(p => p.Id == sub).DisplayName));
    }

    [Fact]
    public async Task A_display_name_over_100_characters_is_refused()
    {
        var client = profile.ClientWith(TestTokens.Issue(NewUser()));
        var response = await client.PutAsJsonAsync("/profiles/me", new { displayName = new string('a', 101) });
        await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Without_a_token_the_profile_is_401_with_a_bare_bearer_challenge()
    {
        var response = await profile.CreateClient().GetAsync("/profiles/me");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
        HttpAssert.HasSecurityHeaders(response);
    }
}
