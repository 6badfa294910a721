using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Services;

namespace SecurePlatform.Token.IntegrationEvents;

// Account changes elsewhere end sessions here (the architecture's reactions). Each consumer is idempotent
// by event id; revoking an already revoked session changes nothing. Events arrive inside batches; the
// platform's batch consumer hands each of these types to its consumer one at a time.

public sealed class PasswordChangedConsumer(TokenDbContext db, SessionService sessions) : IdempotentConsumer<PasswordChanged, TokenDbContext>(db)
{
    protected override Task HandleAsync(PasswordChanged message, CancellationToken cancellationToken) =>
        sessions.RevokeAllAsync(message.Subject!, RevocationReasons.PasswordChanged, Guid.TryParse(message.KeptSessionId, out var keep) ? keep : null, null, message.Actor ?? message.Subject!, cancellationToken);
}

public sealed class UserDisabledConsumer(TokenDbContext db, SessionService sessions) : IdempotentConsumer<UserDisabled, TokenDbContext>(db)
{
    protected override Task HandleAsync(UserDisabled message, CancellationToken cancellationToken) =>
        sessions.RevokeAllAsync(message.Subject!, RevocationReasons.UserDisabled, null, null, message.Actor ?? Protocol.Services.Auth, cancellationToken);
}

public sealed class UserDeletedConsumer(TokenDbContext db, SessionService sessions) : IdempotentConsumer<UserDeleted, TokenDbContext>(db)
{
    protected override Task HandleAsync(UserDeleted message, CancellationToken cancellationToken) =>
        sessions.RevokeAllAsync(message.Subject!, RevocationReasons.UserDeleted, null, null, message.Actor ?? Protocol.Services.Auth, cancellationToken);
}

public sealed class RoleGrantedConsumer(TokenDbContext db, SessionService sessions) : IdempotentConsumer<RoleGranted, TokenDbContext>(db)
{
    protected override Task HandleAsync(RoleGranted message, CancellationToken cancellationToken) =>
        sessions.RevokeAllAsync(message.Subject!, RevocationReasons.RoleChanged, null, null, message.Actor ?? Protocol.Services.Auth, cancellationToken);
}

public sealed class RoleRevokedConsumer(TokenDbContext db, SessionService sessions) : IdempotentConsumer<RoleRevoked, TokenDbContext>(db)
{
    protected override Task HandleAsync(RoleRevoked message, CancellationToken cancellationToken) =>
        sessions.RevokeAllAsync(message.Subject!, RevocationReasons.RoleChanged, null, null, message.Actor ?? Protocol.Services.Auth, cancellationToken);
}

public sealed class PasswordChangeRequiredConsumer(TokenDbContext db, SessionService sessions) : IdempotentConsumer<PasswordChangeRequired, TokenDbContext>(db)
{
    protected override Task HandleAsync(PasswordChangeRequired message, CancellationToken cancellationToken) =>
        sessions.RevokeAllAsync(message.Subject!, RevocationReasons.Admin, null, null, message.Actor ?? Protocol.Services.Auth, cancellationToken);
}
