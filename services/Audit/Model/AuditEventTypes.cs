using System.Collections.Frozen;
using SecurePlatform.Contracts;

namespace SecurePlatform.Audit.Model;

/// <summary>The event catalogue: every concrete <see cref="IntegrationEvent"/> in Contracts, by short name.</summary>
public static class AuditEventTypes
{
    public static IReadOnlyList<Type> All { get; } = typeof(IntegrationEvent).Assembly.GetTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false } && t.IsSubclassOf(typeof(IntegrationEvent)))
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .ToArray();

    public static FrozenSet<string> Names { get; } = All.Select(t => t.Name).ToFrozenSet(StringComparer.Ordinal);

    /// <summary>What a user sees of their own account in <c>GET /audit/me</c>: sign-ins, credential and MFA changes, sessions.</summary>
    public static IReadOnlyList<string> OwnSecurityActivity { get; } =
    [
        nameof(LoginSucceeded), nameof(LoginFailed), nameof(AccountLockedOut), nameof(LoggedOut),
        nameof(PasswordChanged), nameof(PasswordResetRequested), nameof(MfaEnabled), nameof(MfaDisabled),
        nameof(RecoveryCodeUsed), nameof(SessionCreated), nameof(SessionRevoked), nameof(AllSessionsRevoked),
        nameof(RefreshTokenReuseDetected), nameof(RoleGranted), nameof(RoleRevoked), nameof(UserDisabled),
    ];
}
