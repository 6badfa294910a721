using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Messaging;
using SecurePlatform.TestSupport;
using SkiaSharp;

namespace SecurePlatform.Profile.Tests;

/// <summary>The admin routes: search, the full view and erasure, for the admin policy (admin role + mfa) only.</summary>
public class AdminProfilesTests(ProfileFactory profile) : IClassFixture<ProfileFactory>
{
    private static string NewUser() => "user-" + Guid.NewGuid().ToString("N")[..12];

    private static readonly Dictionary<string, object?> JustSignedIn = new() { ["auth_time"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds() };

    private static string AdminToken(out string adminSub, bool recent = true)
    {
        adminSub = "admin-" + Guid.NewGuid().ToString("N")[..12];
        return TestTokens.Issue(adminSub, roles: ["admin"], amr: ["pwd", "otp", "mfa"], claims: recent ? JustSignedIn : null);
    }

    private async Task<string> UserWithProfileAsync(string displayName, bool withAvatar = false)
    {
        var sub = NewUser();
        var client = profile.ClientWith(TestTokens.Issue(sub));
        (await client.PutAsJsonAsync("/profiles/me", new { displayName, bio = "<p>private bio</p>", phone = "+49 30 901820" })).EnsureSuccessStatusCode();
        if (withAvatar)
        {
            using var content = new ByteArrayContent(AvatarTests.Image(100, 100, SKEncodedImageFormat.Png));
            content.Headers.ContentType = new("image/png");
            (await client.PutAsync("/profiles/me/avatar", content)).EnsureSuccessStatusCode();
        }
        return sub;
    }

    private bool Exists(string sub) => profile.WithDb(db => db.Profiles.Any(p => p.Id == sub));

    private int Avatars(string sub) => profile.WithDb(db => db.Avatars.Count(a => a.ProfileId == sub));

    private List<OutboxMessage> Events(string type, string sub) => profile.WithDb(db =>
        db.Set<OutboxMessage>().AsNoTracking().AsEnumerable().Where(m => m.Type.EndsWith("." + type, StringComparison.Ordinal) && m.Payload.Contains(sub)).ToList());

    public static TheoryData<string> NotAdmins => new() { "user", "admin-without-mfa" };

    [Theory]
    [MemberData(nameof(NotAdmins))]
    public async Task Someone_who_is_not_an_admin_with_mfa_gets_403_and_nothing_is_deleted(string who)
    {
        var target = await UserWithProfileAsync("Target", withAvatar: true);
        var caller = NewUser();
        var token = who == "user"
            ? TestTokens.Issue(caller, roles: ["user"], amr: ["pwd", "otp", "mfa"], claims: JustSignedIn)
            : TestTokens.Issue(caller, roles: ["admin"], amr: ["pwd"], claims: JustSignedIn);
        var client = profile.ClientWith(token);

        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/profiles?search=Target")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.DeleteAsync($"/profiles/{target}")).StatusCode);

        Assert.True(Exists(target));
        Assert.Equal(2, Avatars(target));
        Assert.Empty(Events("ProfileDeleted", target));
        // The shared GET route gives such a caller the public view only.
        var view = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync($"/profiles/{target}"));
        Assert.False(view.TryGetProperty("bio", out _));
        Assert.False(view.TryGetProperty("phone", out _));
        Assert.Empty(Events("ProfileViewed", target));
    }

    [Fact]
    public async Task An_admin_deletion_needs_a_recent_sign_in_and_deletes_nothing_without_one()
    {
        var target = await UserWithProfileAsync("Stale target", withAvatar: true);
        var client = profile.ClientWith(AdminToken(out _, recent: false));

        var response = await client.DeleteAsync($"/profiles/{target}");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("insufficient_user_authentication", response.Headers.WwwAuthenticate.ToString());
        Assert.True(Exists(target));
        Assert.Equal(2, Avatars(target));
        Assert.Empty(Events("ProfileDeleted", target));
    }

    [Fact]
    public async Task An_admin_erases_a_profile_and_its_avatar_and_the_event_names_the_admin_and_the_target()
    {
        var target = await UserWithProfileAsync("Erase me", withAvatar: true);
        var client = profile.ClientWith(AdminToken(out var admin));

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/profiles/{target}")).StatusCode);

        Assert.False(Exists(target));
        Assert.Equal(0, Avatars(target));
        var deleted = JsonDocument.Parse(Assert.Single(Events("ProfileDeleted", target)).Payload).RootElement;
        Assert.Equal(admin, deleted.GetProperty("actor").GetString());
        Assert.Equal(target, deleted.GetProperty("subject").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync($"/profiles/{target}")).StatusCode);
        Assert.Single(Events("ProfileDeleted", target));
    }

    [Fact]
    public async Task An_admin_reads_the_whole_profile_and_the_read_is_audited()
    {
        var target = await UserWithProfileAsync("Read me");
        var client = profile.ClientWith(AdminToken(out var admin));

        var view = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync($"/profiles/{target}"));

        Assert.Equal("<p>private bio</p>", view.GetProperty("bio").GetString());
        Assert.Equal("+4930901820", view.GetProperty("phone").GetProperty("e164").GetString());
        var viewed = JsonDocument.Parse(Assert.Single(Events("ProfileViewed", target)).Payload).RootElement;
        Assert.Equal(admin, viewed.GetProperty("actor").GetString());
        Assert.Equal(target, viewed.GetProperty("subject").GetString());
    }

    [Fact]
    public async Task Search_pages_by_cursor_and_treats_wildcards_as_text()
    {
        var tag = "Zq" + Guid.NewGuid().ToString("N")[..8];
        var subs = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            subs.Add(await UserWithProfileAsync($"{tag} person {i}"));
        }
        var percent = await UserWithProfileAsync($"{tag} 100% sure");
        var client = profile.ClientWith(AdminToken(out _));

        var first = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync($"/profiles?search={tag.ToLowerInvariant()}&limit=3"));
        var cursor = first.GetProperty("nextCursor").GetString();
        Assert.NotNull(cursor);
        var second = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync($"/profiles?search={tag}&limit=3&cursor={cursor}"));

        var found = first.GetProperty("items").EnumerateArray().Concat(second.GetProperty("items").EnumerateArray()).Select(p => p.GetProperty("sub").GetString()).ToList();
        Assert.Equal([.. subs.Append(percent).Order(StringComparer.Ordinal)], found);
        Assert.Equal(JsonValueKind.Null, second.GetProperty("nextCursor").ValueKind);
        // The page is a summary: no contact data in bulk.
        Assert.All(first.GetProperty("items").EnumerateArray(), p => Assert.False(p.TryGetProperty("phone", out _)));

        var wildcard = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync($"/profiles?search={tag}%25"));
        Assert.Empty(wildcard.GetProperty("items").EnumerateArray()); // "%" is a character here, not "anything"
        var literal = await HttpAssert.OkJsonAsync<JsonElement>(await client.GetAsync("/profiles?search=" + Uri.EscapeDataString("100% sure")));
        Assert.Contains(percent, literal.GetProperty("items").EnumerateArray().Select(p => p.GetProperty("sub").GetString()));
    }

    [Theory]
    [InlineData("limit=0", "limit", "range")]
    [InlineData("limit=101", "limit", "range")]
    [InlineData("limit=abc", "limit", "invalid")]
    [InlineData("cursor=%25%25%25", "cursor", "cursor")]
    [InlineData("search=a%E2%80%AEb", "search", "formatCharacter")]
    public async Task Bad_search_parameters_are_a_400_naming_the_field_and_rule(string query, string field, string rule)
    {
        var client = profile.ClientWith(AdminToken(out _));

        var problem = await HttpAssert.IsProblemAsync(await client.GetAsync("/profiles?" + query), HttpStatusCode.BadRequest);

        Assert.Contains(rule, problem.GetProperty("rules").GetProperty(field).EnumerateArray().Select(r => r.GetString()));
    }
}
