using System.Text.Json;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Profile.Tests;

/// <summary>The OpenAPI document shows each field's rules, taken from the validators themselves.</summary>
public class OpenApiTests(ProfileFactory profile) : IClassFixture<ProfileFactory>
{
    [Fact]
    public async Task The_profile_request_schema_carries_lengths_patterns_and_required_members()
    {
        var document = await HttpAssert.OkJsonAsync<JsonElement>(await profile.CreateClient().GetAsync("/openapi/v1.json"));
        var schemas = document.GetProperty("components").GetProperty("schemas");

        var request = schemas.GetProperty("UpdateProfileRequest");
        var properties = request.GetProperty("properties");
        Assert.Equal(100, properties.GetProperty("displayName").GetProperty("maxLength").GetInt32());
        Assert.Equal(1, properties.GetProperty("displayName").GetProperty("minLength").GetInt32());
        Assert.Contains("displayName", request.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?$", properties.GetProperty("locale").GetProperty("pattern").GetString());
        Assert.Equal("^https://", properties.GetProperty("website").GetProperty("pattern").GetString());
        Assert.Contains("https: only", properties.GetProperty("bio").GetProperty("description").GetString());

        var address = schemas.GetProperty("PostalAddress").GetProperty("properties");
        Assert.Equal("^[A-Z]{2}$", address.GetProperty("country").GetProperty("pattern").GetString());
        Assert.Equal(3, address.GetProperty("lines").GetProperty("maxItems").GetInt32());
        Assert.Contains("libaddressinput", address.GetProperty("postalCode").GetProperty("description").GetString());

        var avatar = document.GetProperty("paths").GetProperty("/profiles/me/avatar").GetProperty("put").GetProperty("requestBody").GetProperty("content");
        Assert.Equal(["image/png", "image/jpeg", "image/webp"], avatar.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task The_interactive_reference_is_served_in_Development()
    {
        var response = await profile.CreateClient().GetAsync("/scalar");

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
    }
}
