using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Profile.Tests;

/// <summary>Hostile bodies against PUT /profiles/me: each refused (or cleaned) as specified, and nothing stored on refusal.</summary>
public class ProfileValidationTests(ProfileFactory profile) : IClassFixture<ProfileFactory>
{
    private static string NewUser() => "user-" + Guid.NewGuid().ToString("N")[..12];

    private async Task<(HttpClient Client, string Sub)> UserWithProfileAsync()
    {
        var sub = NewUser();
        var client = profile.ClientWith(TestTokens.Issue(sub));
        (await client.PutAsJsonAsync("/profiles/me", new { displayName = "Before" })).EnsureSuccessStatusCode();
        return (client, sub);
    }

    private static HttpContent Raw(string body, string? contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        return content;
    }

    private void AssertUnchanged(string sub)
    {
        var stored = profile.WithDb(db => db.Profiles.AsNoTracking().Single(p => p.Id == sub));
        Assert.Equal("Before", stored.DisplayName);
        Assert.Null(stored.Bio);
        Assert.Null(stored.Phone);
        Assert.Null(stored.Country);
        Assert.Equal(1, profile.WithDb(db => db.Set<OutboxMessage>().AsEnumerable().Count(m => m.Type.EndsWith("ProfileUpdated") && m.Payload.Contains(sub))));
    }

    [Theory]
    [InlineData("""{"displayName":"After","isAdmin":true}""", "isAdmin", "unknownMember")]
    [InlineData("""{"DisplayName":"After"}""", "DisplayName", "unknownMember")]
    [InlineData("""{"displayName":"After","displayName":"Again"}""", "displayName", "invalid")]
    [InlineData("""{"displayName":"After","address":{"country":"DE","lines":["a"],"locality":"b","postalCode":"10115","Country":"US"}}""", "address.Country", "unknownMember")]
    [InlineData("""{"displayName":42}""", "displayName", "invalid")]
    [InlineData("""{"displayName":"After",}""", "$", "json")]
    [InlineData("""{"displayName":"After" /* comment */}""", "$", "json")]
    [InlineData("""not json""", "$", "json")]
    public async Task Unknown_duplicate_wrong_case_and_malformed_members_are_400_naming_the_member(string body, string field, string rule)
    {
        var (client, sub) = await UserWithProfileAsync();

        var response = await client.PutAsync("/profiles/me", Raw(body, "application/json"));

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Equal(rule, problem.GetProperty("rules").GetProperty(field)[0].GetString());
        AssertUnchanged(sub);
    }

    [Theory]
    [InlineData("application/json; charset=bogus")]
    [InlineData("application/json; charset=utf-7")]
    [InlineData("application/json; charset=\"utf-8\"")]
    [InlineData("application/json; charset=")]
    [InlineData("application/json; charset=utf-16")]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    public async Task Every_charset_but_UTF8_and_every_other_media_type_is_415_never_500(string contentType)
    {
        var (client, sub) = await UserWithProfileAsync();

        var response = await client.PutAsync("/profiles/me", Raw("""{"displayName":"After"}""", contentType));

        await HttpAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        AssertUnchanged(sub);
    }

    [Fact]
    public async Task Bytes_that_are_not_UTF8_are_400_and_UTF8_with_its_charset_is_fine()
    {
        var (client, sub) = await UserWithProfileAsync();
        var latin1 = new ByteArrayContent([.. Encoding.ASCII.GetBytes("{\"displayName\":\"Jos"), 0xE9, .. Encoding.ASCII.GetBytes("\"}")]);
        latin1.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        var utf16 = new ByteArrayContent(Encoding.Unicode.GetBytes("""{"displayName":"After"}"""));
        utf16.Headers.TryAddWithoutValidation("Content-Type", "application/json");

        await HttpAssert.IsProblemAsync(await client.PutAsync("/profiles/me", latin1), HttpStatusCode.BadRequest);
        await HttpAssert.IsProblemAsync(await client.PutAsync("/profiles/me", utf16), HttpStatusCode.BadRequest);
        AssertUnchanged(sub);

        var ok = await client.PutAsync("/profiles/me", Raw("""{"displayName":"José"}""", "application/json; charset=UTF-8"));
        Assert.Equal("José", (await HttpAssert.OkJsonAsync<JsonElement>(ok)).GetProperty("displayName").GetString());
    }

    [Fact]
    public async Task A_bio_over_its_input_limit_is_refused_before_it_is_parsed_and_stores_nothing()
    {
        // The 64 KiB body limit itself is Kestrel's (SecurityDefaultsTests); the test server does not apply it.
        var (client, sub) = await UserWithProfileAsync();
        var huge = "{\"displayName\":\"After\",\"bio\":\"" + string.Concat(Enumerable.Repeat("<p>a</p>", 7000)) + "\"}";

        var problem = await HttpAssert.IsProblemAsync(await client.PutAsync("/profiles/me", Raw(huge, "application/json")), HttpStatusCode.BadRequest);

        Assert.Equal("maxLength", problem.GetProperty("rules").GetProperty("bio")[0].GetString());
        AssertUnchanged(sub);
    }

    [Theory]
    [InlineData("evil\u202Egnp.exe", "formatCharacter")]
    [InlineData("zero\u200Bwidth", "formatCharacter")]
    [InlineData("\uFEFFbom", "formatCharacter")]
    [InlineData("tag\U000E0041", "formatCharacter")]
    [InlineData("<b>bold</b>\u0007", "controlCharacter")]
    public async Task Invisible_and_control_characters_in_the_display_name_are_refused_with_their_rule(string displayName, string rule)
    {
        var (client, sub) = await UserWithProfileAsync();

        var response = await client.PutAsJsonAsync("/profiles/me", new { displayName });

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(rule, problem.GetProperty("rules").GetProperty("displayName")[0].GetString());
        AssertUnchanged(sub);
    }

    [Fact]
    public async Task A_hostile_bio_is_stored_and_returned_sanitised()
    {
        var (client, sub) = await UserWithProfileAsync();
        const string bio = """
            <p onmouseover="alert(1)">Hello <script>alert(document.cookie)</script><strong>world</strong></p>
            <a href="javascript:alert(1)">js</a> <a href="data:text/html,<script>x</script>">data</a>
            <a href="https://ada.example/">site</a><img src=x onerror=alert(1)><style>*{}</style>
            """;

        var returned = (await HttpAssert.OkJsonAsync<JsonElement>(await client.PutAsJsonAsync("/profiles/me", new { displayName = "Ada", bio })))
            .GetProperty("bio").GetString()!;

        var stored = profile.WithDb(db => db.Profiles.AsNoTracking().Single(p => p.Id == sub)).Bio!;
        Assert.Equal(stored, returned);
        foreach (var bad in new[] { "<script", "onmouseover", "onerror", "javascript:", "data:", "<img", "<style", "alert(" })
        {
            Assert.DoesNotContain(bad, stored, StringComparison.OrdinalIgnoreCase);
        }
        Assert.Contains("<strong>world</strong>", stored);
        Assert.Contains("""<a href="https://ada.example/" rel="nofollow noopener noreferrer">site</a>""", stored);
    }

    [Fact]
    public async Task A_bio_whose_text_is_too_long_is_refused_but_markup_does_not_count()
    {
        var (client, sub) = await UserWithProfileAsync();
        var withinText = string.Concat(Enumerable.Repeat("<p><em>a</em></p>", 1000)); // 1000 characters of text, 17000 of markup... too much markup
        var tooLong = "<p>" + new string('a', 1001) + "</p>";

        var problem = await HttpAssert.IsProblemAsync(await client.PutAsJsonAsync("/profiles/me", new { displayName = "Ada", bio = tooLong }), HttpStatusCode.BadRequest);
        Assert.Equal("maxLength", problem.GetProperty("rules").GetProperty("bio")[0].GetString());
        await HttpAssert.IsProblemAsync(await client.PutAsJsonAsync("/profiles/me", new { displayName = "Ada", bio = withinText }), HttpStatusCode.BadRequest);
        AssertUnchanged(sub);

        var fits = "<p><em>" + new string('a', 1000) + "</em></p>";
        (await client.PutAsJsonAsync("/profiles/me", new { displayName = "Ada", bio = fits })).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task A_full_profile_is_stored_normalised_and_the_event_names_the_changed_fields_only()
    {
        var (client, sub) = await UserWithProfileAsync();

        var response = await client.PutAsJsonAsync("/profiles/me", new
        {
            displayName = "Jose\u0301 Garci\u0301a", // decomposed: stored NFC
            bio = "<p>Hi</p>",
            phone = "030 901820",
            address = new { country = "DE", lines = new[] { "Unter den Linden 1" }, locality = "Berlin", postalCode = "10117" },
            locale = "de-de",
            timeZone = "Europe/Berlin",
            website = "https://jose.example",
        });

        var body = await HttpAssert.OkJsonAsync<JsonElement>(response);
        Assert.Equal("José García", body.GetProperty("displayName").GetString());
        var phone = body.GetProperty("phone");
        Assert.Equal("+4930901820", phone.GetProperty("e164").GetString());
        Assert.Equal("030 901820", phone.GetProperty("national").GetString());
        Assert.Equal("+49 30 901820", phone.GetProperty("international").GetString());
        Assert.Equal("fixedLine", phone.GetProperty("type").GetString());
        Assert.Equal("de-DE", body.GetProperty("locale").GetString());
        Assert.Equal("https://jose.example/", body.GetProperty("website").GetString());
        var stored = profile.WithDb(db => db.Profiles.AsNoTracking().Single(p => p.Id == sub));
        Assert.Equal(("+4930901820", "DE", "10117"), (stored.Phone, stored.Country, stored.PostalCode));

        var evt = profile.WithDb(db => db.Set<OutboxMessage>().OrderBy(m => m.Sequence).AsEnumerable().Last(m => m.Type.EndsWith("ProfileUpdated") && m.Payload.Contains(sub)));
        var fields = JsonSerializer.Deserialize<ProfileUpdated>(evt.Payload, JsonSerializerOptions.Web)!.Fields;
        Assert.Equal(["displayName", "bio", "phone", "address", "locale", "timeZone", "website"], fields);
        foreach (var value in new[] { "García", "901820", "Linden", "10117", "Berlin", "jose.example" })
        {
            Assert.DoesNotContain(value, evt.Payload);
        }
    }

    [Theory]
    [InlineData("GB", null, "(212) 555-0123", "SW1A 1AA", "phone", "invalidForRegion")] // a New York number read as British
    [InlineData("US", "NY", "030 901820", "10001", "phone", "tooShort")]               // a Berlin number read as American
    [InlineData("DE", null, "12", "10117", "phone", "tooShort")]
    [InlineData("DE", null, "call me", "10117", "phone", "notANumber")]
    [InlineData("DE", null, "+4930901820", "1011", "address.postalCode", "format")]
    [InlineData("US", "NY", "+4930901820", "1001", "address.postalCode", "format")]
    [InlineData("GB", null, "+4930901820", "12345", "address.postalCode", "format")]
    [InlineData("CA", "ON", "+4930901820", "D1A 0B1", "address.postalCode", "format")]
    [InlineData("NL", null, "+4930901820", "1234 SS", "address.postalCode", "format")]
    [InlineData("AE", "Dubai", "+4930901820", "12345", "address.postalCode", "notUsed")]
    [InlineData("UK", null, "+4930901820", "SW1A 1AA", "address.country", "iso3166")]
    public async Task Region_aware_rules_name_the_field_and_why(string country, string? region, string phone, string postalCode, string field, string rule)
    {
        var (client, sub) = await UserWithProfileAsync();

        var response = await client.PutAsJsonAsync("/profiles/me", new
        {
            displayName = "After",
            phone,
            address = new { country, lines = new[] { "1 Main St" }, locality = "Town", region, postalCode },
        });

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal([field], problem.GetProperty("rules").EnumerateObject().Select(p => p.Name));
        Assert.Equal(rule, problem.GetProperty("rules").GetProperty(field)[0].GetString());
        AssertUnchanged(sub);
    }

    [Fact]
    public async Task The_same_national_number_is_valid_in_one_region_and_not_in_another()
    {
        var (client, sub) = await UserWithProfileAsync();
        object Body(string country, string postalCode, string? region) => new
        {
            displayName = "After",
            phone = "(212) 555-0123",
            address = new { country, lines = new[] { "1 Main St" }, locality = "Town", region, postalCode },
        };

        var gb = await client.PutAsJsonAsync("/profiles/me", Body("GB", "SW1A 1AA", null));
        await HttpAssert.IsProblemAsync(gb, HttpStatusCode.BadRequest);
        AssertUnchanged(sub);
        var us = await client.PutAsJsonAsync("/profiles/me", Body("US", "10001", "NY"));

        var phone = (await HttpAssert.OkJsonAsync<JsonElement>(us)).GetProperty("phone");
        Assert.Equal("+12125550123", phone.GetProperty("e164").GetString());
        Assert.Equal("(212) 555-0123", phone.GetProperty("national").GetString());
    }

    [Fact]
    public async Task A_US_address_needs_its_state_and_a_German_one_does_not()
    {
        var (client, sub) = await UserWithProfileAsync();

        var us = await client.PutAsJsonAsync("/profiles/me", new { displayName = "After", address = new { country = "US", lines = new[] { "1 Main St" }, locality = "Town", postalCode = "10001" } });
        var problem = await HttpAssert.IsProblemAsync(us, HttpStatusCode.BadRequest);
        Assert.Equal("required", problem.GetProperty("rules").GetProperty("address.region")[0].GetString());
        AssertUnchanged(sub);

        var de = await client.PutAsJsonAsync("/profiles/me", new { displayName = "After", address = new { country = "DE", lines = new[] { "Hauptstr. 1" }, locality = "Berlin", postalCode = "10117" } });
        de.EnsureSuccessStatusCode();
    }

    [Theory]
    [InlineData("locale", "en_US", "bcp47")]
    [InlineData("locale", "xx-GB", "unknownLanguage")]
    [InlineData("timeZone", "W. Europe Standard Time", "ianaTimeZone")]
    [InlineData("website", "http://ada.example/", "httpsOnly")]
    [InlineData("website", "javascript:alert(1)", "httpsOnly")]
    public async Task Locale_time_zone_and_website_are_checked(string member, string value, string rule)
    {
        var (client, sub) = await UserWithProfileAsync();
        var body = new Dictionary<string, object> { ["displayName"] = "After", [member] = value };

        var problem = await HttpAssert.IsProblemAsync(await client.PutAsJsonAsync("/profiles/me", body), HttpStatusCode.BadRequest);

        Assert.Equal(rule, problem.GetProperty("rules").GetProperty(member)[0].GetString());
        AssertUnchanged(sub);
    }

    [Fact]
    public async Task Every_bad_field_is_named_at_once()
    {
        var (client, sub) = await UserWithProfileAsync();

        var problem = await HttpAssert.IsProblemAsync(await client.PutAsJsonAsync("/profiles/me", new
        {
            displayName = "",
            website = "ftp://x",
            address = new { country = "DE", lines = new[] { "ok", "bad\u202E" }, locality = "Berlin", postalCode = "1" },
        }), HttpStatusCode.BadRequest);

        var rules = problem.GetProperty("rules");
        Assert.Equal("required", rules.GetProperty("displayName")[0].GetString());
        Assert.Equal("httpsOnly", rules.GetProperty("website")[0].GetString());
        Assert.Equal("formatCharacter", rules.GetProperty("address.lines[1]")[0].GetString());
        Assert.Equal("format", rules.GetProperty("address.postalCode")[0].GetString());
        Assert.Equal("One or more fields are invalid.", problem.GetProperty("title").GetString());
        AssertUnchanged(sub);
    }

    [Fact]
    public async Task Other_users_see_only_the_public_view()
    {
        var (owner, sub) = await UserWithProfileAsync();
        (await owner.PutAsJsonAsync("/profiles/me", new { displayName = "Ada", phone = "+4930901820", website = "https://ada.example/" })).EnsureSuccessStatusCode();
        var other = profile.ClientWith(TestTokens.Issue(NewUser()));

        var view = await HttpAssert.OkJsonAsync<JsonElement>(await other.GetAsync($"/profiles/{sub}"));

        Assert.Equal(["sub", "displayName", "avatarUrl"], view.EnumerateObject().Select(p => p.Name));
        Assert.Equal("Ada", view.GetProperty("displayName").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/profiles/{NewUser()}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await profile.CreateClient().GetAsync($"/profiles/{sub}")).StatusCode);
    }

    [Fact]
    public async Task Deleting_the_own_profile_erases_it_with_an_event()
    {
        var (client, sub) = await UserWithProfileAsync();

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync("/profiles/me")).StatusCode);

        Assert.False(profile.WithDb(db => db.Profiles.Any(p => p.Id == sub)));
        Assert.Equal(1, profile.WithDb(db => db.Set<OutboxMessage>().AsEnumerable().Count(m => m.Type.EndsWith("ProfileDeleted") && m.Payload.Contains(sub))));
    }

    [Fact]
    public async Task UserDeleted_erases_the_profile_once_even_when_delivered_twice()
    {
        var (_, sub) = await UserWithProfileAsync();
        var (_, bystander) = await UserWithProfileAsync();
        await profile.WaitForBusAsync();
        var bus = profile.Services.GetRequiredService<IBusControl>();
        var deleted = new UserDeleted { Subject = sub, Actor = "admin", SourceService = "auth-service" };
        var batch = OutboxBatch.ToMessage([OutboxMessage.From(deleted)]);

        await bus.Publish(batch);
        await bus.Publish(batch);

        await Eventually.HoldsAsync(() => Task.FromResult(!profile.WithDb(db => db.Profiles.Any(p => p.Id == sub))), TimeSpan.FromSeconds(30), "profile erased");
        await Task.Delay(1000);
        Assert.True(profile.WithDb(db => db.Profiles.Any(p => p.Id == bystander)));
        Assert.Equal(1, profile.WithDb(db => db.Set<OutboxMessage>().AsEnumerable().Count(m => m.Type.EndsWith("ProfileDeleted") && m.Payload.Contains(sub))));
    }
}
