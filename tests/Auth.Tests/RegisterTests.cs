using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Auth.Model;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Auth.Tests;

public class RegisterTests(AuthApp app) : IClassFixture<AuthApp>
{
    private const string GoodPassword = "zebra glacier 47 lantern";

    private Task<HttpResponseMessage> PostRawAsync(string json, string contentType = "application/json")
        => app.Client.PostAsync("/auth/register", new StringContent(json, Encoding.UTF8, contentType));

    [Fact]
    public async Task Registration_creates_an_account_with_the_user_role_and_a_UserRegistered_event()
    {
        var email = AuthApp.NewEmail("Fresh");
        var before = await app.CountRowsAsync();

        var response = await app.Client.PostAsJsonAsync("/auth/register", new { email = "  " + email.ToUpperInvariant() + " ", password = GoodPassword });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Null(response.Headers.Location);
        HttpAssert.HasSecurityHeaders(response);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = body.GetProperty("id").GetString()!;
        Assert.Equal(7, Guid.Parse(id).Version);
        Assert.Equal(email.ToLowerInvariant(), body.GetProperty("email").GetString());
        Assert.Equal(2, body.EnumerateObject().Count());

        var user = await app.WithUsersAsync(async users => (await users.FindByIdAsync(id))!);
        Assert.Equal(email.ToLowerInvariant(), user.Email);
        Assert.StartsWith("$sp1$argon2id$v=19$m=7168,t=5,p=1$", user.PasswordHash);
        Assert.Equal(new[] { RoleNames.User }, await app.WithUsersAsync(users => users.GetRolesAsync(user)));
        Assert.Equal((before.Users + 1, before.UserRoles + 1, before.Events + 1), await app.CountRowsAsync());

        var registered = (await app.EventsAsync("UserRegistered")).Last();
        var payload = JsonSerializer.Deserialize<JsonElement>(registered.Payload);
        Assert.Equal(id, payload.GetProperty("subject").GetString());
        Assert.Equal(id, payload.GetProperty("actor").GetString());
        Assert.Equal("auth-service", payload.GetProperty("sourceService").GetString());
        Assert.Equal("127.0.0.1", payload.GetProperty("ipAddress").GetString());
        Assert.DoesNotContain(GoodPassword, registered.Payload, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("argon2", registered.Payload, StringComparison.OrdinalIgnoreCase);
    }

    public static TheoryData<string, string, string> BadInputs => new()
    {
        // body, field, rule
        { """{"password":"zebra glacier 47 lantern"}""", "email", "required" },
        { """{"email":"not-an-address","password":"zebra glacier 47 lantern"}""", "email", "format" },
        { $$"""{"email":"{{new string('a', 64)}}@{{new string('b', 200)}}.com","password":"zebra glacier 47 lantern"}""", "email", "maxLength" },
        { """{"email":"ａlice@example.org","password":"zebra glacier 47 lantern"}""", "email", "format" },
        { """{"email":"new@example.org"}""", "password", "required" },
        { """{"email":"new@example.org","password":"short pass1"}""", "password", "minLength" },
        { $$"""{"email":"new@example.org","password":"{{new string('k', 60) + "-" + new string('q', 68)}}"}""", "password", "maxLength" },
        { """{"email":"new@example.org","password":"password1234"}""", "password", "common" },
        { """{"email":"new@example.org","password":"1qaz2wsx3edc"}""", "password", "common" },
        { """{"email":"new@example.org","password":"secureplatform2026"}""", "password", "serviceName" },
        { """{"email":"kettle.drum@example.org","password":"my kettle.drum pass"}""", "password", "emailSimilarity" },
        { """{"email":"new@example.org","password":"zebra glacier 47 lantern","role":"admin"}""", "role", "unknownMember" },
        { """{"Email":"new@example.org","password":"zebra glacier 47 lantern"}""", "Email", "unknownMember" },
        { """{"email":"new@example.org","password":"zebra glacier 47 lantern","email":"other@example.org"}""", "email", "invalid" },
        { """{"email":42,"password":"zebra glacier 47 lantern"}""", "email", "invalid" },
        { """{"email":"new@example.org","password":"zebra glacier 47 lantern",}""", "$", "json" },
        { """["new@example.org"]""", "$", "json" },
        { "null", "$", "required" },
        { "", "$", "required" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Every_bad_input_is_a_400_problem_naming_field_and_rule_and_stores_nothing(string body, string field, string rule)
    {
        var before = await app.CountRowsAsync();

        var response = await PostRawAsync(body);

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        HttpAssert.HasSecurityHeaders(response);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out var messages), problem.ToString());
        Assert.NotEmpty(messages.EnumerateArray());
        Assert.Contains(rule, problem.GetProperty("rules").GetProperty(field).EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(before, await app.CountRowsAsync());
    }

    [Fact]
    public async Task An_oversized_body_is_a_413_problem_before_any_work_and_stores_nothing()
    {
        var before = await app.CountRowsAsync();
        var body = JsonSerializer.Serialize(new { email = AuthApp.NewEmail(), password = new string('x', 20 * 1024) });

        var response = await PostRawAsync(body);

        await HttpAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(before, await app.CountRowsAsync());
    }

    [Theory]
    [InlineData("application/json; charset=bogus")]
    [InlineData("application/json; charset=utf-7")]
    [InlineData("application/json; charset=\"utf-8\"")]
    [InlineData("application/json; charset=")]
    [InlineData("application/json; charset=utf-16")]
    public async Task A_charset_other_than_utf8_is_a_415_problem_and_stores_nothing(string contentType)
    {
        var before = await app.CountRowsAsync();
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes($$"""{"email":"{{AuthApp.NewEmail()}}","password":"{{GoodPassword}}"}"""));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        var response = await app.Client.PostAsync("/auth/register", content);

        await HttpAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Equal(before, await app.CountRowsAsync());
    }

    [Fact]
    public async Task Bytes_that_are_not_utf8_are_a_400_problem_and_store_nothing()
    {
        var before = await app.CountRowsAsync();
        var json = Encoding.UTF8.GetBytes($$"""{"email":"{{AuthApp.NewEmail()}}","password":"zebra glacier 47 XX"}""");
        var at = Array.LastIndexOf(json, (byte)'X');
        json[at - 1] = 0xC3; // a lead byte followed by an ASCII byte: not UTF-8 (ISO-8859-1 'Ã')
        json[at] = 0x28;
        using var content = new ByteArrayContent(json);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        var response = await app.Client.PostAsync("/auth/register", content);

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.TryGetProperty("rules", out _), problem.ToString());
        Assert.Equal(before, await app.CountRowsAsync());
    }

    [Fact]
    public async Task An_oversized_body_without_a_length_is_a_413_problem_and_stores_nothing()
    {
        var before = await app.CountRowsAsync();
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { email = AuthApp.NewEmail(), password = new string('x', 9 * 1024) }));
        using var content = new StreamContent(new MemoryStream(json)); // no Content-Length: sent chunked
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/auth/register") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        var response = await app.Client.SendAsync(request);

        await HttpAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(before, await app.CountRowsAsync());
    }

    [Fact]
    public async Task A_body_just_under_the_limit_is_read_whole()
    {
        // 8 KiB minus the envelope: the limit is the body's, and a body under it reaches the rules (here: too long a password).
        var email = AuthApp.NewEmail();
        var envelope = JsonSerializer.Serialize(new { email, password = "" }).Length;
        var body = JsonSerializer.Serialize(new { email, password = new string('k', 8 * 1024 - envelope) });
        Assert.Equal(8 * 1024, Encoding.UTF8.GetByteCount(body));

        var problem = await HttpAssert.IsProblemAsync(await PostRawAsync(body), HttpStatusCode.BadRequest);

        Assert.Contains("maxLength", problem.GetProperty("rules").GetProperty("password").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_a_415_problem()
    {
        var response = await PostRawAsync("email=a@example.org&password=zebra", "application/x-www-form-urlencoded");

        await HttpAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task An_already_registered_address_gets_the_same_answer_as_a_new_one_and_no_account_changes()
    {
        var email = AuthApp.NewEmail();
        var firstId = await app.RegisterAsync(email, GoodPassword);
        var before = await app.CountRowsAsync();

        var again = await app.Client.PostAsJsonAsync("/auth/register", new { email = email.ToUpperInvariant(), password = "another passphrase 9 lives" });
        var fresh = await app.Client.PostAsJsonAsync("/auth/register", new { email = AuthApp.NewEmail(), password = "another passphrase 9 lives" });

        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        Assert.Equal(fresh.StatusCode, again.StatusCode);
        Assert.Equal(HeaderNames(fresh), HeaderNames(again));
        Assert.Equal(fresh.Content.Headers.ContentLength, again.Content.Headers.ContentLength);
        var body = await again.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(email, body.GetProperty("email").GetString());
        Assert.NotEqual(firstId, body.GetProperty("id").GetString());
        Assert.Equal(7, Guid.Parse(body.GetProperty("id").GetString()!).Version);

        // The fresh address got its account; the taken one only an event for its owner, with no password.
        var after = await app.CountRowsAsync();
        Assert.Equal((before.Users + 1, before.UserRoles + 1, before.Events + 2), after);
        Assert.Equal(1, await app.WithDbAsync(db => db.Users.CountAsync(u => u.Email == email)));
        var attempt = (await app.EventsAsync("RegistrationAttemptedForExistingAccount")).Last();
        Assert.Equal(firstId, JsonSerializer.Deserialize<JsonElement>(attempt.Payload).GetProperty("subject").GetString());
        Assert.DoesNotContain("passphrase", attempt.Payload, StringComparison.Ordinal);
        // The original password still signs in; the second one does not.
        var stored = await app.WithUsersAsync(async users => (await users.FindByEmailAsync(email))!);
        Assert.True(await app.WithUsersAsync(users => users.CheckPasswordAsync(stored, GoodPassword)));
    }

    [Fact]
    public async Task The_password_policy_is_published_in_machine_readable_form()
    {
        var response = await app.Client.GetAsync("/auth/password-policy");

        var policy = await HttpAssert.OkJsonAsync<JsonElement>(response);
        Assert.Equal(12, policy.GetProperty("minLength").GetInt32());
        Assert.Equal(128, policy.GetProperty("maxLength").GetInt32());
        Assert.Equal("unicodeCodePoint", policy.GetProperty("lengthUnit").GetString());
        Assert.False(policy.GetProperty("compositionRules").GetBoolean());
        Assert.True(policy.GetProperty("commonPasswordCount").GetInt32() >= 10_000);
        var rules = policy.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("rule").GetString()).ToList();
        Assert.Superset(new HashSet<string?> { "minLength", "maxLength", "common", "emailSimilarity", "serviceName", "characters" }, rules.ToHashSet());
    }

    private static List<string> HeaderNames(HttpResponseMessage response) =>
        [.. response.Headers.Select(h => h.Key).Concat(response.Content.Headers.Select(h => h.Key)).Where(h => h != "Date").Order()];
}

public class OpenApiTests(AuthApp app) : IClassFixture<AuthApp>
{
    [Fact]
    public async Task The_openapi_document_describes_every_auth_endpoint_with_its_request_and_problem_responses()
    {
        var document = await HttpAssert.OkJsonAsync<JsonElement>(await app.Client.GetAsync("/openapi/v1.json"));

        var paths = document.GetProperty("paths");
        foreach (var (path, method) in new[] { ("/auth/register", "post"), ("/auth/login", "post"), ("/auth/logout", "post"), ("/auth/password/change", "post"), ("/auth/password-policy", "get") })
        {
            Assert.True(paths.TryGetProperty(path, out var item) && item.TryGetProperty(method, out _), $"{method} {path} missing");
        }
        var login = paths.GetProperty("/auth/login").GetProperty("post");
        Assert.True(login.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
        Assert.True(login.GetProperty("responses").TryGetProperty("401", out _));
        Assert.True(paths.GetProperty("/auth/register").GetProperty("post").GetProperty("responses").TryGetProperty("400", out _));
    }
}
