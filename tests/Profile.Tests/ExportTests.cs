using System.Net.Http.Json;
using System.Text.Json;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Profile.Tests;

/// <summary>Without token-service and audit-service the export still answers, and says what it could not include.</summary>
public class ExportTests(ProfileFactory profile) : IClassFixture<ProfileFactory>
{
    [Fact]
    public async Task An_export_whose_other_sources_are_away_says_so_instead_of_leaving_them_out_silently()
    {
        var sub = "user-" + Guid.NewGuid().ToString("N")[..12];
        var client = profile.ClientWith(TestTokens.Issue(sub));
        (await client.PutAsJsonAsync("/profiles/me", new { displayName = "Ada" })).EnsureSuccessStatusCode();

        var response = await client.GetAsync("/profiles/me/export");

        var export = await HttpAssert.OkJsonAsync<JsonElement>(response);
        Assert.False(export.GetProperty("complete").GetBoolean());
        Assert.Equal("Ada", export.GetProperty("profile").GetProperty("displayName").GetString());
        Assert.Equal(sub, export.GetProperty("account").GetProperty("sub").GetString());
        Assert.NotEqual("ok", export.GetProperty("sources").GetProperty("token-service").GetString());
        Assert.NotEqual("ok", export.GetProperty("sources").GetProperty("audit-service").GetString());
        Assert.Equal(JsonValueKind.Null, export.GetProperty("sessions").ValueKind);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.StartsWith("attachment", response.Content.Headers.ContentDisposition?.ToString() ?? response.Headers.GetValues("Content-Disposition").Single());
    }
}
