using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OpenIddict.Abstractions;
using OpenIddict.EntityFrameworkCore.Models;
using SecurePlatform.Token.Model;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace SecurePlatform.Token.Tests;

/// <summary>Client secrets and the key that hashes them rotate without a moment in which a client is refused.</summary>
public class ClientSecretRotationTests
{
    private const string OldSecret = "rotating-old-secret-0123456789abcdef";
    private const string NewSecret = "rotating-new-secret-0123456789abcdef";

    private static Task<HttpResponseMessage> ClientCredentialsAsync(TokenServiceFactory token, string clientId, string secret) =>
        token.Http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = secret, ["scope"] = "api",
        }));

    [Fact]
    public async Task Two_secrets_are_valid_during_the_overlap_and_the_old_one_is_refused_after_it()
    {
        await using var overlap = new TokenServiceFactory("secrets", new()
        {
            ["Clients:rotating:Secret"] = OldSecret,
            ["Clients:rotating:Secrets:0"] = NewSecret,
        });
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(overlap, "rotating", OldSecret)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(overlap, "rotating", NewSecret)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ClientCredentialsAsync(overlap, "rotating", "neither-of-them-0123456789abcdef")).StatusCode);
        var stored = overlap.WithDb(db => db.Set<OpenIddictEntityFrameworkCoreApplication>().Single(a => a.ClientId == "rotating").ClientSecret)!;
        Assert.Equal(2, stored.Split(' ').Length);
        Assert.DoesNotContain(OldSecret, stored);
        Assert.DoesNotContain(NewSecret, stored);

        // The old secret is withdrawn: the next start (every replica, within the client cache period) refuses it.
        await using var after = new TokenServiceFactory("secrets2", new()
        {
            ["ConnectionStrings:tokendb"] = overlap.Setting("ConnectionStrings:tokendb"),
            ["Clients:rotating:Secret"] = NewSecret,
        });
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(after, "rotating", NewSecret)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ClientCredentialsAsync(after, "rotating", OldSecret)).StatusCode);
        after.KeepDatabase = true; // overlap drops it
    }

    [Fact]
    public async Task A_new_hash_key_verifies_old_hashes_re_hashes_them_on_use_and_the_old_key_then_retires()
    {
        const string oldKey = "old-hash-key-0123456789abcdef", newKey = "new-hash-key-0123456789abcdef";
        const string usedSecret = "used-during-overlap-0123456789abcdef", idleSecret = "idle-during-overlap-0123456789abcdef";
        await using var before = new TokenServiceFactory("hashkey", new() { ["Token:ClientSecretHashKey"] = oldKey });
        // Clients created at run time (not from configuration, which is re-registered at every start).
        await using (var scope = before.Services.CreateAsyncScope())
        {
            var manager = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
            foreach (var (id, secret) in new[] { ("runtime-used", usedSecret), ("runtime-idle", idleSecret) })
            {
                await manager.CreateAsync(new OpenIddictApplicationDescriptor
                {
                    ClientId = id, ClientSecret = secret, ClientType = ClientTypes.Confidential,
                    Permissions = { Permissions.Endpoints.Token, Permissions.GrantTypes.ClientCredentials, Permissions.Prefixes.Scope + "api" },
                });
            }
        }
        var database = before.Setting("ConnectionStrings:tokendb");
        string Stored(TokenServiceFactory f, string id) => f.WithDb(db => db.Set<OpenIddictEntityFrameworkCoreApplication>().Single(a => a.ClientId == id).ClientSecret)!;

        await using var overlap = new TokenServiceFactory("hashkey2", new()
        {
            ["ConnectionStrings:tokendb"] = database, ["Token:ClientSecretHashKey"] = newKey, ["Token:PreviousClientSecretHashKeys:0"] = oldKey,
        });
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(overlap, "runtime-used", usedSecret)).StatusCode);
        var current = ClientSecretHasher.FromConfiguredKey(newKey);
        Assert.True(current.Verify(usedSecret, Stored(overlap, "runtime-used")), "re-hashed under the new key on its successful use");
        Assert.False(current.Verify(idleSecret, Stored(overlap, "runtime-idle")), "a client not seen during the overlap keeps its old hash");

        await using var retired = new TokenServiceFactory("hashkey3", new()
        {
            ["ConnectionStrings:tokendb"] = database, ["Token:ClientSecretHashKey"] = newKey,
            ["Token:PreviousClientSecretHashKeys:0"] = oldKey, ["Token:PreviousClientSecretHashKeysUntil"] = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("O"),
        });
        Assert.Equal(HttpStatusCode.OK, (await ClientCredentialsAsync(retired, "runtime-used", usedSecret)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ClientCredentialsAsync(retired, "runtime-idle", idleSecret)).StatusCode);
        overlap.KeepDatabase = retired.KeepDatabase = true; // before drops it
    }
}
