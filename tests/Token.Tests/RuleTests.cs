using System.Buffers.Text;
using System.Security.Cryptography;
using SecurePlatform.Token.Model;

namespace SecurePlatform.Token.Tests;

public class KeyRotationPlanTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Period = TimeSpan.FromDays(30), Announce = TimeSpan.FromDays(2), Lifetime = TimeSpan.FromDays(7);

    private static SigningKey Key(string id, DateTimeOffset activates) => new() { Id = id, Use = "signing", ActivatesAt = activates };

    [Fact]
    public void With_no_key_the_first_activates_at_once()
        => Assert.Equal(T0, KeyRotationPlan.SuccessorDue([], T0, Period, Announce));

    [Fact]
    public void A_successor_is_due_only_inside_the_announcement_window_and_only_once()
    {
        var a = Key("a", T0);
        Assert.Null(KeyRotationPlan.SuccessorDue([a], T0 + Period - Announce - TimeSpan.FromSeconds(1), Period, Announce));
        Assert.Equal(T0 + Period, KeyRotationPlan.SuccessorDue([a], T0 + Period - Announce, Period, Announce));
        Assert.Null(KeyRotationPlan.SuccessorDue([a, Key("b", T0 + Period)], T0 + Period - Announce, Period, Announce));
    }

    [Fact]
    public void A_late_service_activates_the_successor_now_rather_than_in_the_past()
        => Assert.Equal(T0 + Period * 2, KeyRotationPlan.SuccessorDue([Key("a", T0)], T0 + Period * 2, Period, Announce));

    [Fact]
    public void The_active_key_is_the_newest_already_activated()
    {
        var keys = new[] { Key("a", T0), Key("b", T0 + Period) };
        Assert.Equal("a", KeyRotationPlan.Active(keys, T0 + Period - TimeSpan.FromSeconds(1))!.Id);
        Assert.Equal("b", KeyRotationPlan.Active(keys, T0 + Period)!.Id);
    }

    [Fact]
    public void A_retired_key_is_published_until_its_tokens_have_expired()
    {
        var keys = new[] { Key("a", T0), Key("b", T0 + Period), Key("c", T0 + (Period * 2)) };
        var now = T0 + Period + Lifetime - TimeSpan.FromSeconds(1);
        Assert.Equal(["a", "b", "c"], KeyRotationPlan.Published(keys, now, Lifetime).Select(k => k.Id));
        Assert.Equal(["b", "c"], KeyRotationPlan.Published(keys, T0 + Period + Lifetime, Lifetime).Select(k => k.Id));
    }
}

public class SessionPolicyTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 10, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Idle = TimeSpan.FromDays(7);
    private static readonly SessionPolicy Policy = new(Idle, TimeSpan.FromDays(30));
    private static readonly byte[] Current = RandomNumberGenerator.GetBytes(32), Previous = RandomNumberGenerator.GetBytes(32);
    private static readonly string[] None = [];

    private static Session Session(Action<Session>? change = null)
    {
        var s = new Session { CreatedAt = Now.AddDays(-3), LastUsedAt = Now.AddHours(-1), ExpiresAt = Now.AddDays(27), RefreshTokenHash = Current, PreviousRefreshTokenHash = Previous, Scopes = ["openid", "offline_access", "email"], RotatedAt = Now.AddSeconds(-10) };
        change?.Invoke(s);
        return s;
    }

    [Fact]
    public void The_current_token_rotates()
        => Assert.Equal(RefreshDecision.Rotate, Policy.Decide(Session(), Current, None, Now));

    [Fact]
    public void Any_other_token_of_the_family_is_reuse_even_one_rotated_this_very_instant()
    {
        Assert.Equal(RefreshDecision.ReuseDetected, Policy.Decide(Session(), Previous, None, Now));
        // The lost side of a race: its "now" can be earlier than the winner's rotation.
        Assert.Equal(RefreshDecision.ReuseDetected, Policy.Decide(Session(s => s.RotatedAt = Now.AddMilliseconds(5)), Previous, None, Now));
        Assert.Equal(RefreshDecision.ReuseDetected, Policy.Decide(Session(), RandomNumberGenerator.GetBytes(32), None, Now));
    }

    [Fact]
    public void Revoked_idle_or_expired_sessions_refuse_every_token()
    {
        Assert.Equal(RefreshDecision.Refuse, Policy.Decide(Session(s => s.RevokedAt = Now.AddMinutes(-1)), Current, None, Now));
        Assert.Equal(RefreshDecision.Refuse, Policy.Decide(Session(s => s.LastUsedAt = Now - Idle), Current, None, Now));
        Assert.Equal(RefreshDecision.Refuse, Policy.Decide(Session(s => s.ExpiresAt = Now), Current, None, Now));
        Assert.Equal(RefreshDecision.Rotate, Policy.Decide(Session(s => s.LastUsedAt = Now - Idle + TimeSpan.FromMilliseconds(1)), Current, None, Now));
    }

    [Fact]
    public void A_session_ends_its_absolute_lifetime_after_sign_in()
        => Assert.Equal(Now.AddDays(30), Policy.ExpiresAt(Now));

    [Fact]
    public void A_refresh_token_never_outlives_its_session()
    {
        Assert.Equal(Idle, Policy.RefreshTokenLifetime(Now.AddDays(27), Now));
        Assert.Equal(TimeSpan.FromDays(2), Policy.RefreshTokenLifetime(Now.AddDays(2), Now));
    }

    [Fact]
    public void A_refresh_may_narrow_the_granted_scopes_but_never_widen_them()
    {
        Assert.Equal(RefreshDecision.Rotate, Policy.Decide(Session(), Current, ["openid", "email"], Now));
        Assert.Equal(RefreshDecision.ScopeNotGranted, Policy.Decide(Session(), Current, ["openid", "profile"], Now));
        // Reuse is reuse whatever else the request says.
        Assert.Equal(RefreshDecision.ReuseDetected, Policy.Decide(Session(), Previous, ["profile"], Now));
    }
}

public class OpaqueRefreshTokenTests
{
    private static readonly byte[] Key = RandomNumberGenerator.GetBytes(32);

    [Fact]
    public void A_token_reads_back_its_sid_and_the_hash_the_session_stores_and_shows_nothing_else()
    {
        var sid = Guid.CreateVersion7();
        var (token, hash) = OpaqueRefreshToken.Create(Key, sid, "platform-app");

        Assert.True(OpaqueRefreshToken.TryRead(Key, token, "platform-app", out var readSid, out var readHash));
        Assert.Equal(sid, readSid);
        Assert.Equal(hash, readHash);
        Assert.Equal(OpaqueRefreshToken.Length, token.Length);
        Assert.DoesNotContain('.', token); // not a JWT: nothing a client could decode
        Assert.NotEqual(hash, OpaqueRefreshToken.Create(Key, sid, "platform-app").Hash); // 256 fresh bits each time
    }

    [Fact]
    public void A_token_is_refused_for_another_client_another_key_or_any_changed_byte()
    {
        var (token, _) = OpaqueRefreshToken.Create(Key, Guid.CreateVersion7(), "platform-app");
        Assert.False(OpaqueRefreshToken.TryRead(Key, token, "other-app", out _, out _));
        Assert.False(OpaqueRefreshToken.TryRead(RandomNumberGenerator.GetBytes(32), token, "platform-app", out _, out _));
        var bytes = Base64Url.DecodeFromChars(token);
        for (var i = 0; i < bytes.Length; i++)
        {
            var changed = (byte[])bytes.Clone();
            changed[i] ^= 0x01;
            Assert.False(OpaqueRefreshToken.TryRead(Key, Base64Url.EncodeToString(changed), "platform-app", out _, out _));
        }
        Assert.False(OpaqueRefreshToken.TryRead(Key, token[..^1], "platform-app", out _, out _));
        Assert.False(OpaqueRefreshToken.TryRead(Key, token + "A", "platform-app", out _, out _));
        Assert.False(OpaqueRefreshToken.TryRead(Key, new string('!', token.Length), "platform-app", out _, out _));
        Assert.False(OpaqueRefreshToken.TryRead(Key, null, "platform-app", out _, out _));
        Assert.False(OpaqueRefreshToken.TryRead(Key, token, null, out _, out _));
    }
}

public class ClientSecretHasherTests
{
    private readonly ClientSecretHasher _hasher = ClientSecretHasher.FromConfiguredKey("key-one");

    [Fact]
    public void A_secret_verifies_against_its_hash_and_nothing_else()
    {
        var secret = ClientSecretHasher.NewSecret();
        var hash = _hasher.Hash(secret);
        Assert.True(_hasher.Verify(secret, hash));
        Assert.False(_hasher.Verify(secret + "x", hash));
        Assert.False(ClientSecretHasher.FromConfiguredKey("key-two").Verify(secret, hash)); // useless without the key
        Assert.False(_hasher.Verify(secret, "hmac-sha256:not-base64!"));
        Assert.DoesNotContain(secret, hash);
    }

    [Fact]
    public void Generated_secrets_carry_256_bits()
        => Assert.Equal(43, ClientSecretHasher.NewSecret().Length);
}

public class RedirectUriRuleTests
{
    [Theory]
    [InlineData("https://app.example/cb", null)]
    [InlineData("http://127.0.0.1/callback", null)]
    [InlineData("http://[::1]:8080/callback", null)]
    [InlineData("com.example.app:/callback", null)]
    [InlineData("http://app.example/cb", "uses http on a host other than loopback")]
    [InlineData("https://app.example/cb#x", "has a fragment")]
    [InlineData("https://*.example/cb", "contains a wildcard")]
    [InlineData("https://user@app.example/cb", "has user information")]
    [InlineData("javascript:alert(1)", "uses a forbidden scheme")]
    [InlineData("/relative", "is not an absolute URI")]
    public void A_registered_redirect_uri_is_https_loopback_http_or_a_private_scheme(string uri, string? problem) =>
        Assert.Equal(problem, SecurePlatform.Token.Model.RedirectUriRules.Problem(uri));

    [Theory]
    [InlineData("http://127.0.0.1/callback", "http://127.0.0.1:51234/callback", true)]
    [InlineData("http://[::1]/callback", "http://[::1]:40000/callback", true)]
    [InlineData("http://127.0.0.1/callback", "http://127.0.0.1:51234/other", false)]
    [InlineData("http://127.0.0.1/callback", "http://127.0.0.1:51234/callback?x=1", false)]
    [InlineData("http://127.0.0.1/callback", "http://localhost:51234/callback", false)]
    [InlineData("http://localhost/callback", "http://localhost:51234/callback", false)]
    [InlineData("https://app.example/cb", "https://app.example:8443/cb", false)]
    [InlineData("http://127.0.0.1/callback", "https://127.0.0.1:51234/callback", false)]
    [InlineData("http://127.0.0.1/callback", "http://127.0.0.1:51234/callback#f", false)]
    public void Only_a_loopback_ip_redirect_may_differ_and_only_in_its_port(string registered, string presented, bool matches) =>
        Assert.Equal(matches, SecurePlatform.Token.Model.RedirectUriRules.LoopbackMatches(registered, presented));
}

public class ClientRegistrationRulesTests
{
    private static ClientRequest Request(string? clientId = "notes", string? type = "public", string? displayName = "Notes", List<string>? redirectUris = null, List<string>? scopes = null)
        => new(clientId, displayName, type, redirectUris ?? ["https://notes.example/cb"], null, scopes, null);

    [Fact]
    public void A_good_registration_has_no_problems()
    {
        Assert.Empty(ClientRegistrationRules.ForCreate(Request(redirectUris: ["https://notes.example/cb", "http://127.0.0.1/cb", "http://[::1]:8080/cb", "com.example.notes:/cb"], scopes: ["openid", "email"])).Fields);
        Assert.Empty(ClientRegistrationRules.ForCreate(Request(type: "confidential", redirectUris: [])).Fields);
    }

    [Theory]
    [InlineData("http://notes.example/cb", "redirectUris[0]")]
    [InlineData("https://notes.example/cb#x", "redirectUris[0]")]
    [InlineData("https://*.notes.example/cb", "redirectUris[0]")]
    [InlineData("https://user:pw@notes.example/cb", "redirectUris[0]")]
    public void Each_bad_redirect_uri_is_named_by_its_index(string uri, string field)
        => Assert.Contains(field, ClientRegistrationRules.ForCreate(Request(redirectUris: [uri])).Fields);

    [Fact]
    public void Unknown_scopes_bad_ids_types_and_changes_of_id_or_type_are_named()
    {
        Assert.Equal(["scopes[1]"], ClientRegistrationRules.ForCreate(Request(scopes: ["profile", "admin"])).Fields);
        Assert.Equal(["clientId"], ClientRegistrationRules.ForCreate(Request(clientId: "Notes App")).Fields);
        Assert.Equal(["clientId"], ClientRegistrationRules.ForCreate(Request(clientId: "-notes")).Fields);
        Assert.Contains("type", ClientRegistrationRules.ForCreate(Request(type: null)).Fields);
        Assert.Equal(["redirectUris"], ClientRegistrationRules.ForCreate(Request(redirectUris: [])).Fields);
        Assert.Equal(["displayName"], ClientRegistrationRules.ForCreate(Request(displayName: " Notes")).Fields);
        Assert.Equal(["clientId", "type"], ClientRegistrationRules.ForUpdate("notes", "public", Request(clientId: "other", type: "confidential")).Fields.Order());
        Assert.Empty(ClientRegistrationRules.ForUpdate("notes", "public", Request(clientId: null, type: null)).Fields);
    }

    [Fact]
    public void A_secret_is_withdrawn_by_index_and_the_rest_kept_in_order()
    {
        Assert.Equal("b c", ClientRegistrationRules.WithoutSecret("a b c", 0));
        Assert.Equal("a c", ClientRegistrationRules.WithoutSecret("a b c", 1));
        Assert.Equal("", ClientRegistrationRules.WithoutSecret("a", 0));
        Assert.Null(ClientRegistrationRules.WithoutSecret("a b", 2));
        Assert.Null(ClientRegistrationRules.WithoutSecret("a b", -1));
        Assert.Equal(2, ClientRegistrationRules.SecretCount("a b"));
        Assert.Equal(0, ClientRegistrationRules.SecretCount(null));
    }
}

public class BackchannelLogoutRuleTests
{
    private static readonly DateTimeOffset Revoked = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan First = TimeSpan.FromSeconds(5), Period = TimeSpan.FromHours(24);

    [Theory]
    [InlineData(200, "delivered")]
    [InlineData(204, "delivered")]
    [InlineData(400, "refused")]
    [InlineData(404, "refused")]
    public void A_2xx_is_delivered_and_a_4xx_is_refused_for_good(int status, string outcome)
    {
        var step = BackchannelLogout.Next(status, 1, Revoked, Revoked, First, Period);
        Assert.True(step.Done);
        Assert.Equal(outcome, step.Outcome);
        Assert.Null(step.RetryAt);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(408)]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(503)]
    [InlineData(302)] // a redirect is never followed: tried again, as if the client had not answered
    public void No_answer_a_busy_client_or_a_server_error_is_tried_again_later(int? status)
    {
        var step = BackchannelLogout.Next(status, 1, Revoked, Revoked, First, Period);
        Assert.False(step.Done);
        Assert.Equal(Revoked + First, step.RetryAt);
    }

    [Fact]
    public void The_delay_doubles_up_to_an_hour()
    {
        Assert.Equal(TimeSpan.FromSeconds(5), BackchannelLogout.RetryDelay(1, First));
        Assert.Equal(TimeSpan.FromSeconds(10), BackchannelLogout.RetryDelay(2, First));
        Assert.Equal(TimeSpan.FromSeconds(40), BackchannelLogout.RetryDelay(4, First));
        Assert.Equal(TimeSpan.FromHours(1), BackchannelLogout.RetryDelay(20, First));
        Assert.Equal(TimeSpan.FromHours(1), BackchannelLogout.RetryDelay(int.MaxValue, First));
    }

    [Fact]
    public void A_retry_that_would_fall_after_the_retry_period_is_abandoned()
    {
        var late = Revoked + Period - TimeSpan.FromSeconds(4);
        Assert.Equal("abandoned", BackchannelLogout.Next(503, 1, Revoked, late, First, Period).Outcome);
        Assert.False(BackchannelLogout.Next(503, 1, Revoked, late - TimeSpan.FromSeconds(2), First, Period).Done);
    }

    [Theory]
    [InlineData("https://notes.example/bcl", null)]
    [InlineData("https://notes.example/bcl?tenant=a", null)]
    [InlineData("http://127.0.0.1:5000/bcl", null)]
    [InlineData("http://notes.example/bcl", "uses http on a host other than loopback")]
    [InlineData("https://notes.example/bcl#x", "has a fragment")]
    [InlineData("com.example.app:/bcl", "is neither https nor loopback http")]
    [InlineData("/bcl", "is not an absolute URI")]
    public void A_back_channel_logout_uri_is_https_or_loopback_http_without_a_fragment(string uri, string? problem)
        => Assert.Equal(problem, BackchannelLogout.UriProblem(uri));

    [Fact]
    public void The_logout_token_names_the_user_and_the_session_and_the_logout_event_but_no_nonce()
    {
        var sid = Guid.CreateVersion7();
        var claims = BackchannelLogout.Claims("user-1", sid, "jti-1");
        Assert.Equal("user-1", claims["sub"]);
        Assert.Equal(sid.ToString(), claims["sid"]);
        Assert.Equal("jti-1", claims["jti"]);
        Assert.Contains(BackchannelLogout.EventType, Assert.IsAssignableFrom<IDictionary<string, object>>(claims["events"]).Keys);
        Assert.False(claims.ContainsKey("nonce"));
    }
}

public class AuthenticationContextClassTests
{
    [Theory]
    [InlineData(new[] { "pwd" }, AuthenticationContextClasses.SingleFactor)]
    [InlineData(new[] { "fed" }, AuthenticationContextClasses.SingleFactor)]
    [InlineData(new[] { "pwd", "otp", "mfa" }, AuthenticationContextClasses.MultiFactor)]
    [InlineData(new[] { "fed", "otp", "mfa" }, AuthenticationContextClasses.MultiFactor)]
    [InlineData(new string[0], AuthenticationContextClasses.SingleFactor)]
    public void Acr_is_multi_factor_exactly_when_amr_says_mfa(string[] amr, string acr)
        => Assert.Equal(acr, AuthenticationContextClasses.For(amr));
}
