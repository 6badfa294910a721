using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using OtpNet;
using SecurePlatform.TestSupport;

namespace SecurePlatform.EndToEnd.Tests;

/// <summary>
/// Administrators MUST use MFA: the bootstrap administrator's first (password-only) sign-in enrols TOTP, and every
/// admin sign-in after it is two steps. The second step spends a recovery code rather than a TOTP code, since a TOTP
/// code is accepted once per 30 s step and the tests sign the admin in more often than that.
/// </summary>
public static class AdminSignIn
{
    private sealed class State
    {
        public readonly SemaphoreSlim Gate = new(1, 1);
        public readonly Queue<string> RecoveryCodes = new();
        public string? Secret;
    }

    private static readonly ConditionalWeakTable<Platform, State> States = new();

    public static async Task<Tokens> LoginAsync(Platform platform, string userAgent = "e2e-admin")
    {
        var state = States.GetOrCreateValue(platform);
        await state.Gate.WaitAsync();
        try
        {
            var client = User.Http(platform.Auth);
            client.DefaultRequestHeaders.UserAgent.ParseAdd(userAgent);
            var first = await HttpAssert.OkJsonAsync<JsonElement>(
                await client.PostAsJsonAsync("/auth/login", new { email = Platform.AdminEmail, password = Platform.AdminPassword }));
            if (!first.TryGetProperty("mfaRequired", out _))
            {
                // Not enrolled yet: this session has no admin role, only the right to enrol.
                await EnrolAsync(platform, state, Tokens.From(first).Access);
                first = await HttpAssert.OkJsonAsync<JsonElement>(
                    await client.PostAsJsonAsync("/auth/login", new { email = Platform.AdminEmail, password = Platform.AdminPassword }));
            }
            Assert.True(state.RecoveryCodes.Count > 0, "the administrator has MFA but this platform instance holds none of its recovery codes");
            var second = await client.PostAsJsonAsync("/auth/login/mfa", new { ticket = first.GetProperty("mfaTicket").GetString(), recoveryCode = state.RecoveryCodes.Dequeue() });
            var tokens = Tokens.From(await HttpAssert.OkJsonAsync<JsonElement>(second));
            if (state.RecoveryCodes.Count < 2 && state.Secret is not null)
            {
                await RegenerateAsync(platform, state, tokens.Access);
            }
            return tokens;
        }
        finally
        {
            state.Gate.Release();
        }
    }

    private static async Task EnrolAsync(Platform platform, State state, string accessToken)
    {
        var http = User.Http(platform.Auth, accessToken);
        var begin = await HttpAssert.OkJsonAsync<JsonElement>(await http.PostAsync("/auth/mfa/totp", null));
        state.Secret = begin.GetProperty("secret").GetString()!;
        var confirm = await HttpAssert.OkJsonAsync<JsonElement>(await http.PostAsJsonAsync("/auth/mfa/totp/confirm", new { code = Code(state.Secret) }));
        Store(state, confirm);
    }

    private static async Task RegenerateAsync(Platform platform, State state, string accessToken)
    {
        // A fresh TOTP step: the last code (enrolment) may have used the current one.
        await Task.Delay(TimeSpan.FromSeconds(31));
        var http = User.Http(platform.Auth, accessToken);
        Store(state, await HttpAssert.OkJsonAsync<JsonElement>(await http.PostAsJsonAsync("/auth/mfa/recovery-codes", new { code = Code(state.Secret!) })));
    }

    private static void Store(State state, JsonElement body)
    {
        state.RecoveryCodes.Clear();
        foreach (var code in body.GetProperty("recoveryCodes").EnumerateArray())
        {
            state.RecoveryCodes.Enqueue(code.GetString()!);
        }
    }

    private static string Code(string secret) => new Totp(Base32Encoding.ToBytes(secret)).ComputeTotp();
}
