using System.Collections.Frozen;
using SecurePlatform.Contracts;

namespace SecurePlatform.Audit.Model;

/// <summary>How audit rows name the types of <see cref="IntegrationEventCatalogue"/> (the list audit-service consumes).</summary>
public static class AuditEventTypes
{
    /// <summary>Short names (the <c>type</c> column and the <c>?type=</c> filter).</summary>
    public static FrozenSet<string> Names { get; } = IntegrationEventCatalogue.All.Select(t => t.Name).ToFrozenSet(StringComparer.Ordinal);

    /// <summary>What a user sees of their own account in <c>GET /audit/me</c>: sign-ins, credential and MFA changes, sessions.</summary>
    public static IReadOnlyList<string> OwnSecurityActivity { get; } =
    [
        nameof(LoginSucceeded), nameof(LoginFailed), nameof(AccountLockedOut), nameof(LoggedOut),
        nameof(PasswordChanged), nameof(PasswordResetRequested), nameof(MfaEnabled), nameof(MfaDisabled),
        nameof(RecoveryCodeUsed), nameof(SessionCreated), nameof(SessionRevoked), nameof(AllSessionsRevoked),
        nameof(RefreshTokenReuseDetected), nameof(RoleGranted), nameof(RoleRevoked), nameof(UserDisabled),
        nameof(UserEnabled), nameof(PasswordChangeRequired),
    ];
}
