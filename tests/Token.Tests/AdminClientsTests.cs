using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OpenIddict.EntityFrameworkCore.Models;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.TestSupport;
using SecurePlatform.Token.Model;
using SecurePlatform.Token.Services;

namespace SecurePlatform.Token.Tests;

/// <summary>Third-party clients through the admin API, and users' remembered consents through /grants.</summary>
public class AdminClientsTests(TokenServiceFactory token) : IClassFixture<TokenServiceFactory>
{
    private static string NewUser() => "clients-" + Guid.NewGuid().ToString("N")[..12];

    private static string NewClientId() => "app-" + Guid.NewGuid().ToString("N")[..10];

    private async Task<HttpResponseMessage> Send(HttpMethod method, string path, string? accessToken, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (accessToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        return await token.Http.SendAsync(request);
    }

    private async Task<string> AdminAsync() => (await token.SignInAsync(NewUser(), roles: "admin", amr: "pwd otp mfa")).AccessToken; // admin routes need mfa

    private static object Confidential(string clientId, string displayName = "Partner portal") => new
    {
        clientId, displayName, type = "confidential",
        redirectUris = new[] { "https://partner.example/signin-oidc" },
        postLogoutRedirectUris = new[] { "https://partner.example/signout-callback-oidc" },
        scopes = new[] { "openid", "profile", "email", "offline_access" },
        requireConsent = true,
    };

    private static object Public(string clientId) => new
    {
        clientId, displayName = "Native app", type = "public", redirectUris = new[] { "http://127.0.0.1/callback", "com.example.app:/callback" },
    };

    private Task<HttpResponseMessage> ClientCredentialsAsync(string clientId, string secret) =>
        token.Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = secret, ["scope"] = "api",
        }));

    /// <summary>The client, grant and session events in the outbox whose payload mentions <paramref name="value"/> (a client or session id).</summary>
    private List<(string Type, JsonElement Payload)> Events(string value) => token.WithDb(db => db.Set<OutboxMessage>().AsNoTracking()
        .Where(m => m.Type.StartsWith("SecurePlatform.Contracts.Client") || m.Type.StartsWith("SecurePlatform.Contracts.GrantRevoked") || m.Type.StartsWith("SecurePlatform.Contracts.SessionRevoked"))
        .OrderBy(m => m.Sequence).ToList())
        .Where(m => m.Payload.Contains('"' + value + '"', StringComparison.Ordinal))
        .Select(m => (m.Type[(m.Type.LastIndexOf('.') + 1)..], JsonSerializer.Deserialize<JsonElement>(m.Payload)))
        .ToList();

    private string? StoredSecret(string clientId) =>
        token.WithDb(db => db.Set<OpenIddictEntityFrameworkCoreApplication>().AsNoTracking().SingleOrDefault(a => a.ClientId == clientId)?.ClientSecret);

    private async Task<Session> OpenSessionAsync(string subject, string clientId)
    {
        await using var scope = token.Services.CreateAsyncScope();
        return (await scope.ServiceProvider.GetRequiredService<SessionService>()
            .OpenAsync(new SessionGrant(subject, clientId, ["pwd"], ["user"], ["offline_access"], DateTimeOffset.UtcNow), "198.51.100.7", "tests", new DefaultHttpContext(), subject, CancellationToken.None)).Session;
    }

    [Fact]
    public async Task A_confidential_client_is_registered_with_its_secret_shown_once_which_works_at_the_token_endpoint()
    {
        var admin = await AdminAsync();
        var adminSub = Jwt.Payload(admin).GetProperty("sub").GetString()!;
        var clientId = NewClientId();

        var created = await Send(HttpMethod.Post, "/admin/clients", admin, Confidential(clientId));
        var body = await created.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal($"/admin/clients/{clientId}", created.Headers.Location?.OriginalString);
        var answer = JsonSerializer.Deserialize<JsonElement>(body);
        var secret = answer.GetProperty("clientSecret").GetString()!;
        Assert.True(secret.Length >= 43);
        var client = answer.GetProperty("client");
        Assert.Equal("confidential", client.GetProperty("type").GetString());
        Assert.Equal("admin-api", client.GetProperty("source").GetString());
        Assert.True(client.GetProperty("editable").GetBoolean());
        Assert.Equal(1, client.GetProperty("secretCount").GetInt32());
        Assert.True(client.GetProperty("requireConsent").GetBoolean());
        Assert.Equal(["api", "email", "offline_access", "profile"], client.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()!));

        // Stored as a keyed hash; never shown again, neither the secret nor its hash.
        var stored = StoredSecret(clientId)!;
        Assert.StartsWith("hmac-sha256:", stored);
        Assert.DoesNotContain(secret, stored);
        var read = await Send(HttpMethod.Get, $"/admin/clients/{clientId}", admin);
        var readBody = await read.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.DoesNotContain(secret, readBody);
        Assert.DoesNotContain("hmac-sha256", readBody);
        Assert.DoesNotContain("clientSecret", readBody);
        var list = await Send(HttpMethod.Get, "/admin/clients", admin);
        var listBody = await list.Content.ReadAsStringAsync();
        Assert.DoesNotContain("hmac-sha256", listBody);
        var listed = JsonSerializer.Deserialize<List<JsonElement>>(listBody)!;
        Assert.Contains(listed, c => c.GetProperty("clientId").GetString() == clientId);
        Assert.Contains(listed, c => c.GetProperty("clientId").GetString() == "auth-service" && !c.GetProperty("editable").GetBoolean()
            && c.GetProperty("source").GetString() == "configuration");

        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, secret)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ClientCredentialsAsync(clientId, secret + "x")).StatusCode);

        // Changed: the new settings are read back, the secret still works.
        var updated = await Send(HttpMethod.Put, $"/admin/clients/{clientId}", admin, new
        {
            displayName = "Partner portal (new)", redirectUris = new[] { "https://partner.example/oidc", "http://localhost:5002/signin-oidc" },
            scopes = new[] { "openid", "profile" }, requireConsent = false,
        });
        var changed = await HttpAssert.OkJsonAsync<JsonElement>(updated);
        Assert.Equal("Partner portal (new)", changed.GetProperty("displayName").GetString());
        Assert.Equal(2, changed.GetProperty("redirectUris").GetArrayLength());
        Assert.Equal(0, changed.GetProperty("postLogoutRedirectUris").GetArrayLength());
        Assert.False(changed.GetProperty("requireConsent").GetBoolean());
        Assert.Equal(["api", "profile"], changed.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()!));
        Assert.Equal(stored, StoredSecret(clientId));
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, secret)).StatusCode);
        var reread = await HttpAssert.OkJsonAsync<JsonElement>(await Send(HttpMethod.Get, $"/admin/clients/{clientId}", admin));
        Assert.Equal("Partner portal (new)", reread.GetProperty("displayName").GetString());

        // Audited through the outbox: who, before and after, never the secret or its hash.
        var events = Events(clientId);
        Assert.Equal(["ClientRegistered", "ClientUpdated"], events.Select(e => e.Type));
        Assert.All(events, e => Assert.Equal(adminSub, e.Payload.GetProperty("actor").GetString()));
        Assert.Equal("Partner portal", events[1].Payload.GetProperty("before").GetProperty("displayName").GetString());
        Assert.Equal("Partner portal (new)", events[1].Payload.GetProperty("after").GetProperty("displayName").GetString());
        Assert.Equal("settings", events[1].Payload.GetProperty("change").GetString());
        Assert.All(events, e => Assert.DoesNotContain(secret, e.Payload.GetRawText()));
        Assert.All(events, e => Assert.DoesNotContain("hmac-sha256", e.Payload.GetRawText()));
    }

    [Fact]
    public async Task A_second_secret_works_alongside_the_first_until_the_old_one_is_deleted()
    {
        var admin = await AdminAsync();
        var clientId = NewClientId();
        var created = await HttpAssert.OkJsonAsync<JsonElement>(await Send(HttpMethod.Post, "/admin/clients", admin, new { clientId, displayName = "Worker", type = "confidential" }));
        var oldSecret = created.GetProperty("clientSecret").GetString()!;

        var added = await HttpAssert.OkJsonAsync<JsonElement>(await Send(HttpMethod.Post, $"/admin/clients/{clientId}/secrets", admin));
        var newSecret = added.GetProperty("clientSecret").GetString()!;
        Assert.NotEqual(oldSecret, newSecret);
        Assert.Equal(1, added.GetProperty("index").GetInt32());
        Assert.Equal(2, added.GetProperty("secretCount").GetInt32());
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, oldSecret)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, newSecret)).StatusCode);
        await HttpAssert.IsProblemAsync(await Send(HttpMethod.Post, $"/admin/clients/{clientId}/secrets", admin), HttpStatusCode.Conflict);

        Assert.Equal(HttpStatusCode.NoContent, (await Send(HttpMethod.Delete, $"/admin/clients/{clientId}/secrets/0", admin)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ClientCredentialsAsync(clientId, oldSecret)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, newSecret)).StatusCode);
        await HttpAssert.IsProblemAsync(await Send(HttpMethod.Delete, $"/admin/clients/{clientId}/secrets/0", admin), HttpStatusCode.Conflict); // the last one
        await HttpAssert.IsProblemAsync(await Send(HttpMethod.Delete, $"/admin/clients/{clientId}/secrets/5", admin), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(clientId, newSecret)).StatusCode);

        var events = Events(clientId);
        Assert.Equal(["ClientRegistered", "ClientUpdated", "ClientUpdated"], events.Select(e => e.Type));
        Assert.Equal("secret_added", events[1].Payload.GetProperty("change").GetString());
        Assert.Equal(2, events[1].Payload.GetProperty("after").GetProperty("secretCount").GetInt32());
        Assert.Equal("secret_removed", events[2].Payload.GetProperty("change").GetString());
        Assert.Equal(1, events[2].Payload.GetProperty("after").GetProperty("secretCount").GetInt32());
        Assert.All(events, e => Assert.DoesNotContain(newSecret, e.Payload.GetRawText()));

        // A public client has no secrets to add.
        var publicId = NewClientId();
        var publicClient = await HttpAssert.OkJsonAsync<JsonElement>(await Send(HttpMethod.Post, "/admin/clients", admin, Public(publicId)));
        Assert.Equal(JsonValueKind.Null, publicClient.GetProperty("clientSecret").ValueKind);
        Assert.Null(StoredSecret(publicId));
        await HttpAssert.IsProblemAsync(await Send(HttpMethod.Post, $"/admin/clients/{publicId}/secrets", admin), HttpStatusCode.Conflict);
    }

    public static TheoryData<string, string> BadRegistrations => new()
    {
        { """{"clientId":"ID","displayName":"x","type":"confidential"}""", "clientId" },
        { """{"clientId":"ok-id","displayName":"x","type":"secretive"}""", "type" },
        { """{"clientId":"ok-id","displayName":"","type":"confidential"}""", "displayName" },
        { """{"clientId":"ok-id","displayName":"x","type":"public","redirectUris":["http://partner.example/cb"]}""", "redirectUris[0]" },
        { """{"clientId":"ok-id","displayName":"x","type":"public","redirectUris":["https://ok.example/cb","https://partner.example/cb#frag"]}""", "redirectUris[1]" },
        { """{"clientId":"ok-id","displayName":"x","type":"public","redirectUris":["https://*.partner.example/cb"]}""", "redirectUris[0]" },
        { """{"clientId":"ok-id","displayName":"x","type":"public","redirectUris":["/relative"]}""", "redirectUris[0]" },
        { """{"clientId":"ok-id","displayName":"x","type":"public","redirectUris":["javascript:alert(1)"]}""", "redirectUris[0]" },
        { """{"clientId":"ok-id","displayName":"x","type":"public","redirectUris":["https://ok.example/cb"],"postLogoutRedirectUris":["http://evil.example/"]}""", "postLogoutRedirectUris[0]" },
        { """{"clientId":"ok-id","displayName":"x","type":"public","redirectUris":["https://ok.example/cb"],"scopes":["openid","admin"]}""", "scopes[1]" },
        { """{"clientId":"ok-id","displayName":"x","type":"public"}""", "redirectUris" },
    };

    [Theory]
    [MemberData(nameof(BadRegistrations))]
    public async Task A_bad_registration_is_a_400_naming_the_field_and_stores_nothing(string json, string field)
    {
        var admin = await AdminAsync();
        var clientId = NewClientId();
        json = json.Replace("\"ok-id\"", $"\"{clientId}\"", StringComparison.Ordinal);
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/clients") { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin);

        var problem = await HttpAssert.IsProblemAsync(await token.Http.SendAsync(request), HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
        Assert.NotEmpty(problem.GetProperty("rules").GetProperty(field).EnumerateArray()); // the platform's one shape: a rule code per field
        Assert.Null(StoredSecret(clientId));
        Assert.False(token.WithDb(db => db.Set<OpenIddictEntityFrameworkCoreApplication>().Any(a => a.ClientId == clientId)));
        Assert.Empty(Events(clientId));
    }

    [Fact]
    public async Task Requiring_pushed_authorization_is_a_setting_of_the_admin_api_stored_as_the_client_requirement_and_audited()
    {
        var admin = await AdminAsync();
        var clientId = NewClientId();
        bool StoredRequirement() => token.WithDb(db => db.Set<OpenIddictEntityFrameworkCoreApplication>().AsNoTracking()
            .Single(a => a.ClientId == clientId).Requirements ?? "").Contains("ft:par", StringComparison.Ordinal);

        var created = await Send(HttpMethod.Post, "/admin/clients", admin, new
        {
            clientId, displayName = "Pushed app", type = "public", redirectUris = new[] { "http://127.0.0.1/callback" }, requirePushedAuthorization = true,
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.True((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("client").GetProperty("requirePushedAuthorization").GetBoolean());
        Assert.True(StoredRequirement());

        var changed = await HttpAssert.OkJsonAsync<JsonElement>(await Send(HttpMethod.Put, $"/admin/clients/{clientId}", admin, new
        {
            displayName = "Pushed app", redirectUris = new[] { "http://127.0.0.1/callback" }, requirePushedAuthorization = false,
        }));
        Assert.False(changed.GetProperty("requirePushedAuthorization").GetBoolean());
        Assert.False(StoredRequirement());
        var updated = Events(clientId).Single(e => e.Type == "ClientUpdated");
        Assert.True(updated.Payload.GetProperty("before").GetProperty("requirePushedAuthorization").GetBoolean());
        Assert.False(updated.Payload.GetProperty("after").GetProperty("requirePushedAuthorization").GetBoolean());
    }

    [Fact]
    public async Task A_back_channel_logout_uri_is_set_through_the_admin_api_checked_and_audited()
    {
        var admin = await AdminAsync();
        var clientId = NewClientId();
        string? Stored() => token.WithDb(db => db.Set<OpenIddictEntityFrameworkCoreApplication>().AsNoTracking().SingleOrDefault(a => a.ClientId == clientId))?.Properties;

        // Refused, naming the field, and nothing registered: http off loopback, and a client without the code flow.
        foreach (var (body, rule) in new (object, string)[]
        {
            (new { clientId, displayName = "Notes", type = "public", redirectUris = new[] { "http://127.0.0.1/cb" }, backchannelLogoutUri = "http://notes.example/bcl" }, "uri"),
            (new { clientId, displayName = "Notes", type = "confidential", backchannelLogoutUri = "https://notes.example/bcl" }, "codeFlowOnly"),
        })
        {
            var refused = await Send(HttpMethod.Post, "/admin/clients", admin, body);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(problem.GetProperty("errors").TryGetProperty("backchannelLogoutUri", out _), problem.ToString());
            Assert.Contains(rule, problem.GetProperty("rules").GetProperty("backchannelLogoutUri").EnumerateArray().Select(r => r.GetString()));
            Assert.Null(Stored());
        }

        var created = await Send(HttpMethod.Post, "/admin/clients", admin, new
        {
            clientId, displayName = "Notes", type = "public", redirectUris = new[] { "http://127.0.0.1/cb" }, backchannelLogoutUri = "https://notes.example/bcl",
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("https://notes.example/bcl", (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("client").GetProperty("backchannelLogoutUri").GetString());
        Assert.Contains("\"backchannel_logout_uri\":\"https://notes.example/bcl\"", Stored(), StringComparison.Ordinal);

        var changed = await HttpAssert.OkJsonAsync<JsonElement>(await Send(HttpMethod.Put, $"/admin/clients/{clientId}", admin, new
        {
            displayName = "Notes", redirectUris = new[] { "http://127.0.0.1/cb" },
        }));
        Assert.Equal(JsonValueKind.Null, changed.GetProperty("backchannelLogoutUri").ValueKind);
        Assert.DoesNotContain("backchannel_logout_uri", Stored(), StringComparison.Ordinal);
        var updated = Events(clientId).Single(e => e.Type == "ClientUpdated");
        Assert.Equal("https://notes.example/bcl", updated.Payload.GetProperty("before").GetProperty("backchannelLogoutUri").GetString());
    }

    public static TheoryData<string, string, int, string?> StrictBodies => new()
    {
        // body (ok-id: a fresh client id), Content-Type, status, field named (null: no field for a 415/413)
        { """{"clientId":"ok-id","displayName":"x","type":"public","redirectUris":["https://ok.example/cb"],"secret":"s"}""", "application/json", 400, "secret" },
        { """{"clientId":"ok-id","DisplayName":"x","type":"public","redirectUris":["https://ok.example/cb"]}""", "application/json", 400, "DisplayName" },
        { """{"clientId":"ok-id","displayName":"x","displayName":"y","type":"public","redirectUris":["https://ok.example/cb"]}""", "application/json", 400, "displayName" },
        { """{"clientId":"ok-id","displayName":"x","type":"public","redirectUris":["https://ok.example/cb"]}""", "application/json; charset=bogus", 415, null },
        { """{"clientId":"ok-id","displayName":"x","type":"public","redirectUris":["https://ok.example/cb"]}""", "application/json; charset=utf-16", 415, null },
        { """{"clientId":"ok-id","displayName":"x","type":"public","redirectUris":["https://ok.example/cb"],"scopes":["openid",""" + new string(' ', 70 * 1024) + "]}", "application/json", 413, null },
    };

    [Theory]
    [MemberData(nameof(StrictBodies))]
    public async Task A_body_the_platform_reads_strictly_is_refused_like_everywhere_and_stores_nothing(string json, string contentType, int status, string? field)
    {
        var admin = await AdminAsync();
        var clientId = NewClientId();
        using var content = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(json.Replace("\"ok-id\"", $"\"{clientId}\"", StringComparison.Ordinal)));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/clients") { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin);

        var problem = await HttpAssert.IsProblemAsync(await token.Http.SendAsync(request), (HttpStatusCode)status);

        if (field is not null)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
            Assert.True(problem.GetProperty("rules").TryGetProperty(field, out _), problem.GetRawText());
        }
        Assert.False(token.WithDb(db => db.Set<OpenIddictEntityFrameworkCoreApplication>().Any(a => a.ClientId == clientId)));
        Assert.Empty(Events(clientId));
    }

    [Fact]
    public async Task Bytes_that_are_not_utf8_are_a_400_and_store_nothing()
    {
        var admin = await AdminAsync();
        var clientId = NewClientId();
        var json = System.Text.Encoding.UTF8.GetBytes($$"""{"clientId":"{{clientId}}","displayName":"Caf__","type":"public","redirectUris":["https://ok.example/cb"]}""");
        var at = Array.IndexOf(json, (byte)'_');
        json[at] = 0xE9; // ISO-8859-1 'é': a lone byte that is not UTF-8
        json[at + 1] = 0x21;
        using var content = new ByteArrayContent(json);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/clients") { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin);

        var problem = await HttpAssert.IsProblemAsync(await token.Http.SendAsync(request), HttpStatusCode.BadRequest);

        Assert.True(problem.TryGetProperty("rules", out _), problem.GetRawText());
        Assert.False(token.WithDb(db => db.Set<OpenIddictEntityFrameworkCoreApplication>().Any(a => a.ClientId == clientId)));
    }

    [Fact]
    public async Task A_setting_this_api_does_not_have_is_refused_rather_than_ignored()
    {
        var admin = await AdminAsync();
        var clientId = NewClientId();
        using var content = new StringContent(
            $$"""{"clientId":"{{clientId}}","displayName":"x","type":"public","redirectUris":["https://ok.example/cb"],"requirePar":true}""",
            System.Text.Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/clients") { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin);

        await HttpAssert.IsProblemAsync(await token.Http.SendAsync(request), HttpStatusCode.BadRequest);
        Assert.Null(StoredSecret(clientId));
        Assert.False(token.WithDb(db => db.Set<OpenIddictEntityFrameworkCoreApplication>().Any(a => a.ClientId == clientId)));
    }

    [Fact]
    public async Task A_bad_change_is_a_400_naming_the_field_and_changes_nothing()
    {
        var admin = await AdminAsync();
        var clientId = NewClientId();
        await HttpAssert.OkJsonAsync<JsonElement>(await Send(HttpMethod.Post, "/admin/clients", admin, Confidential(clientId)));
        var before = await (await Send(HttpMethod.Get, $"/admin/clients/{clientId}", admin)).Content.ReadAsStringAsync();

        var wildcard = await HttpAssert.IsProblemAsync(await Send(HttpMethod.Put, $"/admin/clients/{clientId}", admin,
            new { displayName = "Changed", redirectUris = new[] { "https://partner.example/*" } }), HttpStatusCode.BadRequest);
        var retype = await HttpAssert.IsProblemAsync(await Send(HttpMethod.Put, $"/admin/clients/{clientId}", admin,
            new { displayName = "Changed", type = "public", redirectUris = new[] { "https://partner.example/cb" } }), HttpStatusCode.BadRequest);
        var scope = await HttpAssert.IsProblemAsync(await Send(HttpMethod.Put, $"/admin/clients/{clientId}", admin,
            new { displayName = "Changed", scopes = new[] { "roles" } }), HttpStatusCode.BadRequest);

        Assert.True(wildcard.GetProperty("errors").TryGetProperty("redirectUris[0]", out _));
        Assert.True(retype.GetProperty("errors").TryGetProperty("type", out _));
        Assert.True(scope.GetProperty("errors").TryGetProperty("scopes[0]", out _));
        Assert.Equal(before, await (await Send(HttpMethod.Get, $"/admin/clients/{clientId}", admin)).Content.ReadAsStringAsync());
        Assert.Equal(["ClientRegistered"], Events(clientId).Select(e => e.Type));
    }

    [Fact]
    public async Task Only_admins_reach_the_clients_api()
    {
        var user = (await token.SignInAsync(NewUser())).AccessToken;
        var clientId = NewClientId();
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, "/admin/clients"), (HttpMethod.Get, "/admin/clients/worker"), (HttpMethod.Post, "/admin/clients"),
            (HttpMethod.Put, $"/admin/clients/{clientId}"), (HttpMethod.Delete, $"/admin/clients/{clientId}"),
            (HttpMethod.Post, $"/admin/clients/{clientId}/secrets"), (HttpMethod.Delete, $"/admin/clients/{clientId}/secrets/0"),
        })
        {
            var body = method == HttpMethod.Get || method == HttpMethod.Delete ? null : Confidential(clientId);
            Assert.Equal(HttpStatusCode.Forbidden, (await Send(method, path, user, body)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await Send(method, path, null, body)).StatusCode);
        }
        Assert.False(token.WithDb(db => db.Set<OpenIddictEntityFrameworkCoreApplication>().Any(a => a.ClientId == clientId)));
    }

    [Fact]
    public async Task Built_in_and_configured_clients_cannot_be_changed_or_deleted_through_the_api()
    {
        var admin = await AdminAsync();
        var authBefore = StoredSecret("auth-service");
        foreach (var builtIn in new[] { "auth-service", "platform-app" })
        {
            await HttpAssert.IsProblemAsync(await Send(HttpMethod.Put, $"/admin/clients/{builtIn}", admin, new { displayName = "mine", redirectUris = new[] { "https://evil.example/cb" } }), HttpStatusCode.Forbidden);
            await HttpAssert.IsProblemAsync(await Send(HttpMethod.Delete, $"/admin/clients/{builtIn}", admin), HttpStatusCode.Forbidden);
            await HttpAssert.IsProblemAsync(await Send(HttpMethod.Post, $"/admin/clients/{builtIn}/secrets", admin), HttpStatusCode.Forbidden);
            await HttpAssert.IsProblemAsync(await Send(HttpMethod.Delete, $"/admin/clients/{builtIn}/secrets/0", admin), HttpStatusCode.Forbidden);
            await HttpAssert.IsProblemAsync(await Send(HttpMethod.Post, "/admin/clients", admin, Confidential(builtIn)), HttpStatusCode.Conflict);
        }
        // From configuration: start-up re-applies them, so the API leaves them alone.
        await HttpAssert.IsProblemAsync(await Send(HttpMethod.Put, "/admin/clients/third-party-app", admin, new { displayName = "mine", type = "public", redirectUris = new[] { "https://evil.example/cb" } }), HttpStatusCode.Conflict);
        await HttpAssert.IsProblemAsync(await Send(HttpMethod.Delete, "/admin/clients/worker", admin), HttpStatusCode.Conflict);
        await HttpAssert.IsProblemAsync(await Send(HttpMethod.Post, "/admin/clients", admin, Confidential("worker")), HttpStatusCode.Conflict);

        Assert.Equal(authBefore, StoredSecret("auth-service"));
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync("worker", TokenServiceFactory.ServiceSecret)).StatusCode);
        await token.SignInAsync(NewUser()); // auth-service still signs users in to platform-app
        await HttpAssert.IsProblemAsync(await Send(HttpMethod.Get, "/admin/clients/no-such-client", admin), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Deleting_a_client_revokes_its_sessions_and_forgets_its_consents()
    {
        var admin = await AdminAsync();
        var clientId = NewClientId();
        await HttpAssert.OkJsonAsync<JsonElement>(await Send(HttpMethod.Post, "/admin/clients", admin, Public(clientId)));
        var (alice, bob) = (NewUser(), NewUser());
        var aliceSession = await OpenSessionAsync(alice, clientId);
        var bobSession = await OpenSessionAsync(bob, clientId);
        var aliceElsewhere = await token.SignInAsync(alice);
        token.WithDb(db =>
        {
            db.Grants.Add(new Grant { Id = Guid.CreateVersion7(), Subject = alice, ClientId = clientId, Scopes = ["openid", "profile"], CreatedAt = DateTimeOffset.UtcNow });
            return db.SaveChanges();
        });

        Assert.Equal(HttpStatusCode.NoContent, (await Send(HttpMethod.Delete, $"/admin/clients/{clientId}", admin)).StatusCode);

        await HttpAssert.IsProblemAsync(await Send(HttpMethod.Get, $"/admin/clients/{clientId}", admin), HttpStatusCode.NotFound);
        var sessions = token.WithDb(db => db.Sessions.AsNoTracking().Where(s => s.Id == aliceSession.Id || s.Id == bobSession.Id).ToList());
        Assert.All(sessions, s => Assert.Equal(RevocationReasons.ClientDeleted, s.RevokedReason));
        Assert.True(await token.Redis.KeyExistsAsync(SessionRevocation.SidKey(aliceSession.Id.ToString())));
        Assert.True(await token.Redis.KeyExistsAsync(SessionRevocation.SidKey(bobSession.Id.ToString())));
        Assert.Null(token.WithDb(db => db.Sessions.AsNoTracking().Single(s => s.Id == Guid.Parse(aliceElsewhere.Sid)).RevokedAt));
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "/sessions", aliceElsewhere.AccessToken)).StatusCode);
        Assert.False(token.WithDb(db => db.Grants.Any(g => g.ClientId == clientId)));
        var deleted = Events(clientId).Single(e => e.Type == "ClientDeleted").Payload;
        Assert.Equal(2, deleted.GetProperty("sessionsRevoked").GetInt32());
        Assert.Equal(1, deleted.GetProperty("grantsDeleted").GetInt32());
        Assert.Equal("Native app", deleted.GetProperty("before").GetProperty("displayName").GetString());
        Assert.Single(Events(aliceSession.Id.ToString()), e => e.Type == "SessionRevoked");
        Assert.Single(Events(bobSession.Id.ToString()), e => e.Type == "SessionRevoked");
        await HttpAssert.IsProblemAsync(await Send(HttpMethod.Delete, $"/admin/clients/{clientId}", admin), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_user_lists_and_withdraws_their_own_grants_only()
    {
        var admin = await AdminAsync();
        var clientId = NewClientId();
        await HttpAssert.OkJsonAsync<JsonElement>(await Send(HttpMethod.Post, "/admin/clients", admin, Public(clientId)));
        var (alice, bob) = (NewUser(), NewUser());
        var aliceToken = await token.SignInAsync(alice);
        var bobToken = await token.SignInAsync(bob);
        var aliceAppSession = await OpenSessionAsync(alice, clientId);
        var bobAppSession = await OpenSessionAsync(bob, clientId);
        var aliceGrant = new Grant { Id = Guid.CreateVersion7(), Subject = alice, ClientId = clientId, Scopes = ["openid", "profile"], CreatedAt = DateTimeOffset.UtcNow };
        var bobGrant = new Grant { Id = Guid.CreateVersion7(), Subject = bob, ClientId = clientId, Scopes = ["openid"], CreatedAt = DateTimeOffset.UtcNow };
        token.WithDb(db =>
        {
            db.Grants.AddRange(aliceGrant, bobGrant);
            return db.SaveChanges();
        });

        var listed = await HttpAssert.OkJsonAsync<List<JsonElement>>(await Send(HttpMethod.Get, "/grants", aliceToken.AccessToken));
        var only = Assert.Single(listed);
        Assert.Equal(aliceGrant.Id.ToString(), only.GetProperty("id").GetString());
        Assert.Equal(clientId, only.GetProperty("clientId").GetString());
        Assert.Equal("Native app", only.GetProperty("displayName").GetString());
        Assert.Equal(["openid", "profile"], only.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()!));
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, "/grants", null)).StatusCode);

        // Bob's grant is not Alice's to withdraw: it looks like none, and stays.
        await HttpAssert.IsProblemAsync(await Send(HttpMethod.Delete, $"/grants/{bobGrant.Id}", aliceToken.AccessToken), HttpStatusCode.NotFound);
        Assert.True(token.WithDb(db => db.Grants.Any(g => g.Id == bobGrant.Id)));
        Assert.Null(token.WithDb(db => db.Sessions.AsNoTracking().Single(s => s.Id == bobAppSession.Id).RevokedAt));

        Assert.Equal(HttpStatusCode.NoContent, (await Send(HttpMethod.Delete, $"/grants/{aliceGrant.Id}", aliceToken.AccessToken)).StatusCode);
        Assert.False(token.WithDb(db => db.Grants.Any(g => g.Id == aliceGrant.Id)));
        Assert.Equal(RevocationReasons.GrantRevoked, token.WithDb(db => db.Sessions.AsNoTracking().Single(s => s.Id == aliceAppSession.Id).RevokedReason));
        Assert.True(await token.Redis.KeyExistsAsync(SessionRevocation.SidKey(aliceAppSession.Id.ToString())));
        Assert.Null(token.WithDb(db => db.Sessions.AsNoTracking().Single(s => s.Id == bobAppSession.Id).RevokedAt));
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "/grants", aliceToken.AccessToken)).StatusCode); // her platform-app session lives
        Assert.Empty(await HttpAssert.OkJsonAsync<List<JsonElement>>(await Send(HttpMethod.Get, "/grants", aliceToken.AccessToken)));
        Assert.Single(await HttpAssert.OkJsonAsync<List<JsonElement>>(await Send(HttpMethod.Get, "/grants", bobToken.AccessToken)));
        await HttpAssert.IsProblemAsync(await Send(HttpMethod.Delete, $"/grants/{aliceGrant.Id}", aliceToken.AccessToken), HttpStatusCode.NotFound);

        var revoked = Events(clientId).Single(e => e.Type == "GrantRevoked").Payload;
        Assert.Equal(alice, revoked.GetProperty("actor").GetString());
        Assert.Equal(alice, revoked.GetProperty("subject").GetString());
        Assert.Equal(1, revoked.GetProperty("sessionsRevoked").GetInt32());
    }

    [Fact]
    public async Task An_api_client_survives_a_restart_and_another_replica_sees_a_change_within_the_cache_period()
    {
        await using var first = new TokenServiceFactory("clients", new() { ["Token:ClientCacheDuration"] = "00:00:01" });
        await using var second = new TokenServiceFactory("clients2", new()
        {
            ["ConnectionStrings:tokendb"] = first.Setting("ConnectionStrings:tokendb"), ["Token:ClientCacheDuration"] = "00:00:01",
        });
        second.KeepDatabase = true; // first drops it
        var admin = (await first.SignInAsync(NewUser(), roles: "admin", amr: "pwd otp mfa")).AccessToken;
        var clientId = NewClientId();
        using var create = new HttpRequestMessage(HttpMethod.Post, "/admin/clients") { Content = JsonContent.Create(new { clientId, displayName = "Worker", type = "confidential" }) };
        create.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin);
        var oldSecret = (await HttpAssert.OkJsonAsync<JsonElement>(await first.Http.SendAsync(create))).GetProperty("clientSecret").GetString()!;
        using var add = new HttpRequestMessage(HttpMethod.Post, $"/admin/clients/{clientId}/secrets");
        add.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin);
        var newSecret = (await HttpAssert.OkJsonAsync<JsonElement>(await first.Http.SendAsync(add))).GetProperty("clientSecret").GetString()!;

        // Start-up of another replica re-applies the configured clients and leaves this one as it is.
        Task<HttpResponseMessage> At(TokenServiceFactory replica, string secret) => replica.Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = secret, ["scope"] = "api",
        }));
        Assert.Equal(HttpStatusCode.OK, (await At(second, oldSecret)).StatusCode); // the second replica caches the client now
        Assert.Equal(HttpStatusCode.OK, (await At(second, newSecret)).StatusCode);

        using var remove = new HttpRequestMessage(HttpMethod.Delete, $"/admin/clients/{clientId}/secrets/0");
        remove.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin);
        Assert.Equal(HttpStatusCode.NoContent, (await first.Http.SendAsync(remove)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await At(first, oldSecret)).StatusCode); // at once where it was made

        // Elsewhere within Token:ClientCacheDuration (one second here).
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Equal(HttpStatusCode.Unauthorized, (await At(second, oldSecret)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await At(second, newSecret)).StatusCode);
    }
}
