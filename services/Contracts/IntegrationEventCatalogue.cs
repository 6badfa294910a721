using System.Collections.Frozen;

namespace SecurePlatform.Contracts;

/// <summary>
/// Every integration event type of the platform, each listed once. Producers' outboxes and consumers resolve
/// stored type names only against this list (plus types a test or bench registers explicitly), and
/// audit-service subscribes to all of it. A new event in <c>Events.cs</c> goes here too; a test fails otherwise.
/// </summary>
public static class IntegrationEventCatalogue
{
    public static IReadOnlyList<Type> All { get; } =
    [
        typeof(UserRegistered),
        typeof(RegistrationAttemptedForExistingAccount),
        typeof(LoginSucceeded),
        typeof(LoginFailed),
        typeof(AccountLockedOut),
        typeof(LoggedOut),
        typeof(PasswordChanged),
        typeof(PasswordResetRequested),
        typeof(MfaEnabled),
        typeof(MfaDisabled),
        typeof(RecoveryCodeUsed),
        typeof(RoleGranted),
        typeof(RoleRevoked),
        typeof(UserDisabled),
        typeof(UserDeleted),
        typeof(UserEnabled),
        typeof(PasswordChangeRequired),
        typeof(ExternalLoginLinked),
        typeof(ExternalLoginUnlinked),
        typeof(SessionCreated),
        typeof(TokenRefreshed),
        typeof(RefreshTokenReuseDetected),
        typeof(SessionRevoked),
        typeof(AllSessionsRevoked),
        typeof(BackchannelLogoutNotified),
        typeof(SigningKeyRotated),
        typeof(SigningKeyRevoked),
        typeof(ClientRegistered),
        typeof(ClientUpdated),
        typeof(ClientDeleted),
        typeof(GrantRevoked),
        typeof(RequestThrottled),
        typeof(ProfileUpdated),
        typeof(ProfileDeleted),
        typeof(ProfileViewed),
        typeof(AvatarUploaded),
    ];

    /// <summary>The types by full name, the form outbox rows and batch envelopes store.</summary>
    public static FrozenDictionary<string, Type> ByFullName { get; } = All.ToFrozenDictionary(t => t.FullName!, StringComparer.Ordinal);
}
