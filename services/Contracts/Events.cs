namespace SecurePlatform.Contracts;

// The event catalogue of the architecture. Each record adds a small typed payload to the envelope of
// IntegrationEvent (who, whom, where from, when, which trace). Never passwords, tokens, secrets, TOTP seeds
// or request bodies; profile changes name fields, not values.

/// <summary>A new account. Subject: the new user's id.</summary>
public sealed record UserRegistered : IntegrationEvent;

/// <summary>
/// Someone tried to register an address that already has an account. The caller got the same answer as for a
/// new address (no enumeration oracle); this tells the owner (audit, later an email) and shows probing.
/// Subject: the existing account.
/// </summary>
public sealed record RegistrationAttemptedForExistingAccount : IntegrationEvent;

/// <summary>A password (and, if required, MFA) check passed and a session was opened.</summary>
public sealed record LoginSucceeded : IntegrationEvent
{
    public string SessionId { get; init; } = "";

    public string ClientId { get; init; } = "";

    /// <summary>Authentication methods (RFC 8176): <c>pwd</c>, <c>otp</c>, <c>mfa</c>.</summary>
    public IReadOnlyList<string> Amr { get; init; } = [];
}

/// <summary>A sign-in attempt failed. Subject is set only when the account exists.</summary>
public sealed record LoginFailed : IntegrationEvent
{
    /// <summary>One of <see cref="LoginFailureReasons"/>.</summary>
    public string Reason { get; init; } = "";
}

public static class LoginFailureReasons
{
    public const string InvalidCredentials = "invalid_credentials";
    public const string UnknownAccount = "unknown_account";
    public const string AccountDisabled = "account_disabled";
    public const string LockedOut = "locked_out";
    public const string MfaFailed = "mfa_failed";
}

/// <summary>
/// A request was refused with 429 by a rate limit or the sign-in throttle. Recorded at most once per policy and client
/// IP per interval (and a few per policy overall), so a flood does not become an audit flood. IP: the envelope's.
/// </summary>
public sealed record RequestThrottled : IntegrationEvent
{
    /// <summary>The budget that was exhausted (<c>login</c>, <c>login-account</c>, <c>register</c>, <c>token</c>, <c>ceiling</c>, ...).</summary>
    public string Policy { get; init; } = "";
}

public sealed record AccountLockedOut : IntegrationEvent
{
    public DateTimeOffset LockedUntil { get; init; }
}

public sealed record LoggedOut : IntegrationEvent
{
    public string SessionId { get; init; } = "";
}

/// <summary>The password changed; every session but <see cref="KeptSessionId"/> is to be revoked.</summary>
public sealed record PasswordChanged : IntegrationEvent
{
    public string? KeptSessionId { get; init; }
}

public sealed record PasswordResetRequested : IntegrationEvent;

public sealed record MfaEnabled : IntegrationEvent
{
    public string Method { get; init; } = "totp";
}

/// <summary>TOTP removed: by the user (actor = subject) or reset by an administrator (actor: the admin, with before/after).</summary>
public sealed record MfaDisabled : IntegrationEvent
{
    public string Method { get; init; } = "totp";

    public UserSummary? Before { get; init; }

    public UserSummary? After { get; init; }
}

public sealed record RecoveryCodeUsed : IntegrationEvent
{
    public int Remaining { get; init; }
}

/// <summary>
/// What an account looks like, for before/after of administrative changes in the audit trail: state, roles and
/// credential flags only. No email or other personal data: the subject id is the link, and it stops pointing at a
/// person once the account is deleted.
/// </summary>
public sealed record UserSummary
{
    public IReadOnlyList<string> Roles { get; init; } = [];

    public bool Disabled { get; init; }

    public bool MfaEnabled { get; init; }

    public bool PasswordChangeRequired { get; init; }
}

/// <summary>A role was added (actor: the admin; the bootstrapper's grant has no before/after).</summary>
public sealed record RoleGranted : IntegrationEvent
{
    public string Role { get; init; } = "";

    public UserSummary? Before { get; init; }

    public UserSummary? After { get; init; }
}

public sealed record RoleRevoked : IntegrationEvent
{
    public string Role { get; init; } = "";

    public UserSummary? Before { get; init; }

    public UserSummary? After { get; init; }
}

/// <summary>An administrator disabled the account: every session is to be revoked and no sign-in path lets it in.</summary>
public sealed record UserDisabled : IntegrationEvent
{
    public string? Reason { get; init; }

    public UserSummary? Before { get; init; }

    public UserSummary? After { get; init; }
}

/// <summary>An administrator enabled a disabled account again.</summary>
public sealed record UserEnabled : IntegrationEvent
{
    public UserSummary Before { get; init; } = new();

    public UserSummary After { get; init; } = new();
}

/// <summary>An administrator requires the user to choose a new password before the next sign-in.</summary>
public sealed record PasswordChangeRequired : IntegrationEvent
{
    public UserSummary Before { get; init; } = new();

    public UserSummary After { get; init; } = new();
}

/// <summary>
/// The account and its credentials are gone (actor: an admin, or the user for self-service deletion): sessions are
/// to be revoked, the profile erased. <see cref="Before"/> is what it looked like.
/// </summary>
public sealed record UserDeleted : IntegrationEvent
{
    public UserSummary? Before { get; init; }
}

/// <summary>
/// An external sign-in (provider, provider subject) now belongs to the subject's account: created with a new account,
/// or linked by the signed-in user, or after the user proved the local password. Never by a matching email alone.
/// </summary>
public sealed record ExternalLoginLinked : IntegrationEvent
{
    public string Provider { get; init; } = "";
}

public sealed record ExternalLoginUnlinked : IntegrationEvent
{
    public string Provider { get; init; } = "";
}

/// <summary>token-service opened a session (one sign-in, one refresh-token family).</summary>
public sealed record SessionCreated : IntegrationEvent
{
    public string SessionId { get; init; } = "";

    public string ClientId { get; init; } = "";

    public IReadOnlyList<string> Amr { get; init; } = [];
}

public sealed record TokenRefreshed : IntegrationEvent
{
    public string SessionId { get; init; } = "";

    public string ClientId { get; init; } = "";
}

/// <summary>An already-used refresh token was presented: the whole session was revoked.</summary>
public sealed record RefreshTokenReuseDetected : IntegrationEvent
{
    public string SessionId { get; init; } = "";

    public string ClientId { get; init; } = "";
}

public sealed record SessionRevoked : IntegrationEvent
{
    public string SessionId { get; init; } = "";

    /// <summary>One of <see cref="RevocationReasons"/>.</summary>
    public string Reason { get; init; } = "";
}

/// <summary>
/// What became of the back-channel logout (OpenID Connect Back-Channel Logout 1.0) token sent to the client of an
/// ended session: delivered, refused by the client (4xx), or abandoned after the retry period. Subject: the user.
/// </summary>
public sealed record BackchannelLogoutNotified : IntegrationEvent
{
    public string SessionId { get; init; } = "";

    public string ClientId { get; init; } = "";

    /// <summary>One of <see cref="BackchannelLogoutOutcomes"/>.</summary>
    public string Outcome { get; init; } = "";

    public int Attempts { get; init; }

    /// <summary>The client's last HTTP status, if it answered at all.</summary>
    public int? StatusCode { get; init; }
}

public static class BackchannelLogoutOutcomes
{
    public const string Delivered = "delivered";
    public const string Refused = "refused";
    public const string Abandoned = "abandoned";
}

public sealed record AllSessionsRevoked : IntegrationEvent
{
    public int Count { get; init; }

    public string Reason { get; init; } = "";

    /// <summary>Set when the caller's own session was kept (password change, "sign out other devices").</summary>
    public string? KeptSessionId { get; init; }
}

public static class RevocationReasons
{
    public const string Logout = "logout";
    public const string UserRequest = "user_request";
    public const string Admin = "admin";
    public const string RefreshTokenReuse = "refresh_token_reuse";
    public const string AuthorizationCodeReplay = "authorization_code_replay";
    public const string PasswordChanged = "password_changed";
    public const string UserDisabled = "user_disabled";
    public const string UserDeleted = "user_deleted";
    public const string RoleChanged = "role_changed";
    public const string Expired = "expired";
    public const string ClientDeleted = "client_deleted";
    public const string GrantRevoked = "grant_revoked";
}

public sealed record SigningKeyRotated : IntegrationEvent
{
    public string NewKeyId { get; init; } = "";

    public string? RetiredKeyId { get; init; }

    public string Algorithm { get; init; } = "";
}

/// <summary>
/// A signing key withdrawn at once (compromised): no longer published or used, and every service refuses the
/// tokens it signed. <see cref="IntegrationEvent.Actor"/> is the administrator; <see cref="ReplacementKeyId"/> is
/// the key that took over signing, when the revoked one was signing.
/// </summary>
public sealed record SigningKeyRevoked : IntegrationEvent
{
    public string KeyId { get; init; } = "";

    public string? ReplacementKeyId { get; init; }
}

/// <summary>Which profile fields changed: names only, never values.</summary>
public sealed record ProfileUpdated : IntegrationEvent
{
    public IReadOnlyList<string> Fields { get; init; } = [];
}

public sealed record ProfileDeleted : IntegrationEvent;

/// <summary>An administrator read a user's whole profile (<c>Actor</c> the admin, <c>Subject</c> the user); the public view is not recorded.</summary>
public sealed record ProfileViewed : IntegrationEvent;

public sealed record AvatarUploaded : IntegrationEvent
{
    public string ContentType { get; init; } = "";

    public long Size { get; init; }
}

/// <summary>
/// What an OAuth client registration looks like, for before/after in the audit trail: settings and how many
/// secrets it accepts — never a secret or its hash.
/// </summary>
public sealed record ClientSummary
{
    public string ClientId { get; init; } = "";

    public string DisplayName { get; init; } = "";

    /// <summary><c>public</c> or <c>confidential</c>.</summary>
    public string ClientType { get; init; } = "";

    public IReadOnlyList<string> RedirectUris { get; init; } = [];

    public IReadOnlyList<string> PostLogoutRedirectUris { get; init; } = [];

    public IReadOnlyList<string> Scopes { get; init; } = [];

    public bool RequireConsent { get; init; }

    /// <summary>The client must push its authorization requests (RFC 9126).</summary>
    public bool RequirePushedAuthorization { get; init; }

    /// <summary>Where the client is told of ended sessions (OpenID Connect Back-Channel Logout), if anywhere.</summary>
    public string? BackchannelLogoutUri { get; init; }

    public int SecretCount { get; init; }
}

/// <summary>A client registered through the admin API (actor: the admin).</summary>
public sealed record ClientRegistered : IntegrationEvent
{
    public string ClientId { get; init; } = "";

    public ClientSummary After { get; init; } = new();
}

/// <summary>A client's settings changed, or a secret was added or removed (<see cref="Change"/>).</summary>
public sealed record ClientUpdated : IntegrationEvent
{
    public const string Settings = "settings";
    public const string SecretAdded = "secret_added";
    public const string SecretRemoved = "secret_removed";

    public string ClientId { get; init; } = "";

    /// <summary><see cref="Settings"/>, <see cref="SecretAdded"/> or <see cref="SecretRemoved"/>.</summary>
    public string Change { get; init; } = "";

    public ClientSummary Before { get; init; } = new();

    public ClientSummary After { get; init; } = new();
}

/// <summary>A client was deleted: its sessions were revoked and its users' remembered consents removed.</summary>
public sealed record ClientDeleted : IntegrationEvent
{
    public string ClientId { get; init; } = "";

    public ClientSummary Before { get; init; } = new();

    public int SessionsRevoked { get; init; }

    public int GrantsDeleted { get; init; }
}

/// <summary>A user withdrew a remembered consent; that client's sessions of the user were revoked.</summary>
public sealed record GrantRevoked : IntegrationEvent
{
    public string GrantId { get; init; } = "";

    public string ClientId { get; init; } = "";

    public IReadOnlyList<string> Scopes { get; init; } = [];

    public int SessionsRevoked { get; init; }
}
