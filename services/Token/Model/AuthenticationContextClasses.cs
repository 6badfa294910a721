namespace SecurePlatform.Token.Model;

/// <summary>
/// The <c>acr</c> values of this platform (OpenID Connect Core §2): how strongly the sign-in behind a token proved
/// the user, derived from its <c>amr</c>. A client that asks for one with <c>acr_values</c> gets the value the
/// sign-in reached and decides itself (the request is voluntary, §3.1.2.1); a user without a second factor cannot
/// reach multi-factor by asking.
/// </summary>
public static class AuthenticationContextClasses
{
    /// <summary>One factor: a password, or an external provider's word.</summary>
    public const string SingleFactor = "urn:secureplatform:acr:single-factor";

    /// <summary>A password or an external sign-in plus a second factor (TOTP or a recovery code): amr has <c>mfa</c>.</summary>
    public const string MultiFactor = "urn:secureplatform:acr:multi-factor";

    public static readonly IReadOnlyList<string> Supported = [SingleFactor, MultiFactor];

    public static string For(IEnumerable<string> amr) => amr.Contains("mfa", StringComparer.Ordinal) ? MultiFactor : SingleFactor;
}
