using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Contracts;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Auth.Tests;

public sealed class ClosedRegistrationAuthApp() : AuthApp("closed_registration", new Dictionary<string, string?> { ["Registration:Open"] = "false" });

/// <summary><c>Registration:Open=false</c>: no account can be created, by the API or by a first external sign-in.</summary>
public class ClosedRegistrationTests(ClosedRegistrationAuthApp app) : IClassFixture<ClosedRegistrationAuthApp>
{
    public static TheoryData<string> Bodies => new()
    {
        """{"email":"closed@example.org","password":"zebra glacier 47 lantern"}""", // would be accepted if open
        """{"email":"closed@example.org","password":"zebra glacier 47 lantern","role":"admin"}""", // an unknown member
        """{"email":"not-an-address","password":"short"}""", // fails validation
        """{"email":""", // not JSON
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task Registration_answers_403_whatever_the_body_and_stores_nothing(string body)
    {
        var before = await app.CountRowsAsync();

        var response = await app.Client.PostAsync("/auth/register", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.Forbidden);
        Assert.Equal("Registration is closed.", problem.GetProperty("title").GetString());
        Assert.False(problem.TryGetProperty("errors", out _), "nothing about the body is told");
        Assert.Equal(before, await app.CountRowsAsync());
    }

    [Fact]
    public async Task A_first_external_sign_in_is_refused_and_creates_no_account_or_link()
    {
        var before = await app.CountRowsAsync();
        var logins = await app.WithDbAsync(db => db.UserLogins.CountAsync());
        var request = new HttpRequestMessage(HttpMethod.Post, Protocol.CredentialCheck.ExternalPath)
        {
            Content = JsonContent.Create(new
            {
                provider = "peer", providerSubject = Guid.NewGuid().ToString("N"), email = AuthApp.NewEmail("closed-external"), emailVerified = true,
                clientId = "platform-app", clientIp = "198.51.100.9", userAgent = "HostedLogin/1.0",
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AuthApp.TokenServiceToken());

        var response = await app.Client.SendAsync(request);

        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.Forbidden);
        Assert.Equal("registration_closed", problem.GetProperty("reason").GetString());
        Assert.Equal(before, await app.CountRowsAsync());
        Assert.Equal(logins, await app.WithDbAsync(db => db.UserLogins.CountAsync()));
    }
}
