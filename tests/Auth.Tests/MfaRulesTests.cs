using OtpNet;
using SecurePlatform.Auth.Model;

namespace SecurePlatform.Auth.Tests;

/// <summary>The pure TOTP and recovery-code rules, without a host.</summary>
public class MfaRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 6, 0, 10, TimeSpan.Zero);

    private static string CodeAt(string secret, DateTimeOffset at) => new Totp(Base32Encoding.ToBytes(secret)).ComputeTotp(at.UtcDateTime);

    [Fact]
    public void A_code_is_accepted_within_one_step_of_drift_and_not_beyond()
    {
        var secret = TotpRules.NewSecret();
        Assert.NotNull(TotpRules.Verify(secret, CodeAt(secret, Now), Now, null));
        Assert.NotNull(TotpRules.Verify(secret, CodeAt(secret, Now.AddSeconds(-30)), Now, null));
        Assert.NotNull(TotpRules.Verify(secret, CodeAt(secret, Now.AddSeconds(30)), Now, null));
        Assert.Null(TotpRules.Verify(secret, CodeAt(secret, Now.AddSeconds(-90)), Now, null));
        Assert.Null(TotpRules.Verify(secret, CodeAt(secret, Now.AddSeconds(90)), Now, null));
    }

    [Fact]
    public void A_code_of_the_last_used_step_or_earlier_is_a_replay()
    {
        var secret = TotpRules.NewSecret();
        var step = TotpRules.Verify(secret, CodeAt(secret, Now), Now, null)!.Value;
        Assert.Null(TotpRules.Verify(secret, CodeAt(secret, Now), Now, step));
        Assert.Null(TotpRules.Verify(secret, CodeAt(secret, Now.AddSeconds(-30)), Now, step));
        Assert.Equal(step + 1, TotpRules.Verify(secret, CodeAt(secret, Now.AddSeconds(30)), Now, step));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("12345")]
    [InlineData("1234567")]
    [InlineData("12a456")]
    [InlineData("１２３４５６")] // full-width digits are not ASCII digits
    public void Malformed_codes_are_no_codes(string? code) => Assert.Null(TotpRules.NormalizeCode(code));

    [Fact]
    public void The_otpauth_uri_names_issuer_account_and_parameters()
    {
        var uri = new Uri(TotpRules.OtpAuthUri("JBSWY3DPEHPK3PXP", "alice@example.org"));
        Assert.Equal("otpauth", uri.Scheme);
        Assert.Equal("totp", uri.Host);
        Assert.Contains("secret=JBSWY3DPEHPK3PXP", uri.Query, StringComparison.Ordinal);
        Assert.Contains("issuer=SecurePlatform", uri.Query, StringComparison.Ordinal);
        Assert.Contains("SecurePlatform:alice%40example.org", uri.AbsoluteUri, StringComparison.Ordinal);
    }

    [Fact]
    public void Ten_distinct_recovery_codes_whose_hash_ignores_case_and_dashes()
    {
        var codes = RecoveryCodeRules.Generate();
        Assert.Equal(10, codes.Distinct().Count());
        Assert.All(codes, c => Assert.Matches("^[0-9a-z]{5}-[0-9a-z]{5}$", c));
        Assert.Equal(RecoveryCodeRules.Hash(codes[0]), RecoveryCodeRules.Hash(codes[0].ToUpperInvariant().Replace("-", " ", StringComparison.Ordinal)));
        Assert.NotEqual(RecoveryCodeRules.Hash(codes[0]), RecoveryCodeRules.Hash(codes[1]));
        Assert.Null(RecoveryCodeRules.Hash("not-a-code"));
    }

    [Fact]
    public void The_admin_role_needs_a_multi_factor_session()
    {
        Assert.Equal(["user"], MfaRules.SessionRoles(["user", "admin"], MfaRules.PasswordOnly));
        Assert.Equal(["admin", "user"], MfaRules.SessionRoles(["user", "admin"], MfaRules.PasswordAndOtp));
    }
}
