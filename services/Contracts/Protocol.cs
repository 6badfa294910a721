namespace SecurePlatform.Contracts;

/// <summary>
/// The platform's own protocol vocabulary: the names that more than one service (and every client) must
/// spell the same way. Standard OAuth/OIDC names stay OpenIddict's constants.
/// </summary>
public static class Protocol
{
    /// <summary>The service names: Aspire resource names, event source names, client ids where a service is one.</summary>
    public static class Services
    {
        public const string Auth = "auth-service";
        public const string Token = "token-service";
        public const string Audit = "audit-service";
        public const string Profile = "profile-service";
    }

    /// <summary>Registered client ids every installation has.</summary>
    public static class Clients
    {
        /// <summary>auth-service at token-service: the only client allowed the sign-in grant.</summary>
        public const string AuthService = Services.Auth;

        /// <summary>The public first-party app whose tokens a sign-in issues unless the login names another.</summary>
        public const string PlatformApp = "platform-app";
    }

    /// <summary>The platform sign-in grant: auth-service vouches for a user it has verified.</summary>
    public static class SignInGrant
    {
        public const string GrantType = "urn:secureplatform:grant-type:sign-in";

        public const string Subject = "subject";
        public const string Amr = "amr";
        public const string Roles = "roles";
        public const string TargetClient = "target_client_id";
        public const string ClientIp = "client_ip";
        public const string UserAgent = "user_agent";

        /// <summary>"cookie": token-service answers with the refresh token in <see cref="RefreshCookie"/>, not in the body.</summary>
        public const string RefreshTokenDelivery = "refresh_token_delivery";

        public const string CookieDelivery = "cookie";
    }

    public const string TokenPath = "/connect/token";

    /// <summary>
    /// The hosted sign-in's credential check: token-service's pages send what the user typed to auth-service,
    /// which runs the same code as its JSON login (timing equalisation, events, throttling). token-service
    /// authenticates with an access token it signs for itself (<c>client_id</c> token-service, this scope).
    /// </summary>
    public static class CredentialCheck
    {
        public const string Path = "/auth/credentials/verify";

        /// <summary>The hosted login's second step: the ticket <see cref="Path"/> answered with, and a TOTP or recovery code.</summary>
        public const string MfaPath = "/auth/credentials/verify-mfa";

        /// <summary>An external provider vouched for (provider, subject): find, create or link the account.</summary>
        public const string ExternalPath = "/auth/credentials/external";

        /// <summary><c>{LinksPath}/{sub}</c>: the external sign-ins linked to an account; <c>/{provider}</c> removes one.</summary>
        public const string LinksPath = "/auth/credentials/links";

        public const string Scope = "credentials:verify";
    }

    /// <summary>
    /// Browser mode: the refresh token lives in an HttpOnly cookie scoped to the token endpoint. token-service
    /// owns it — it sets it (also for a sign-in through auth-service, which relays token-service's
    /// <c>Set-Cookie</c>), rotates it and clears it — and its Max-Age is the refresh token's own lifetime.
    /// </summary>
    public static class RefreshCookie
    {
        public const string Name = "__Secure-sp_rt";

        public const string Path = TokenPath;

        /// <summary>A refresh from the cookie must carry this header with value 1, which a cross-site form cannot send.</summary>
        public const string RequestHeader = "X-SecurePlatform-Refresh";
    }
}
