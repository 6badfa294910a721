using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SecurePlatform.ServiceDefaults.Auth;

namespace SecurePlatform.ServiceDefaults.Tests;

/// <summary>The one admin policy of every service: the admin role AND a multi-factor sign-in (amr contains mfa).</summary>
public class AdminPolicyTests
{
    private static async Task<bool> AllowsAsync(string[] roles, string[] amr)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Auth:Authority"] = "http://127.0.0.1:5102/" });
        builder.AddDefaultAuthentication();
        await using var services = builder.Services.BuildServiceProvider();
        var identity = new ClaimsIdentity(
            [new Claim(PlatformClaims.Subject, "someone"), .. roles.Select(r => new Claim(PlatformClaims.Roles, r)), .. amr.Select(a => new Claim(PlatformClaims.Amr, a))],
            authenticationType: "Bearer", nameType: PlatformClaims.Subject, roleType: PlatformClaims.Roles);
        var result = await services.GetRequiredService<IAuthorizationService>().AuthorizeAsync(new ClaimsPrincipal(identity), PlatformClaims.AdminPolicy);
        return result.Succeeded;
    }

    [Fact]
    public async Task An_admin_token_without_mfa_in_amr_is_refused() => Assert.False(await AllowsAsync(["admin", "user"], ["pwd"]));

    [Fact]
    public async Task An_admin_token_with_mfa_in_amr_is_allowed() => Assert.True(await AllowsAsync(["admin", "user"], ["pwd", "otp", "mfa"]));

    [Fact]
    public async Task Mfa_without_the_admin_role_is_refused() => Assert.False(await AllowsAsync(["user"], ["pwd", "otp", "mfa"]));
}
