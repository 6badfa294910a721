using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.Profile.Infrastructure;

namespace SecurePlatform.Profile.IntegrationEvents;

/// <summary>The account is gone, so is the person behind it (the architecture's <c>UserDeleted</c> reaction). Idempotent by event id.</summary>
public sealed class DeleteProfileOnUserDeleted(ProfileDbContext db) : IdempotentConsumer<UserDeleted, ProfileDbContext>(db)
{
    protected override Task HandleAsync(UserDeleted message, CancellationToken cancellationToken) =>
        message.Subject is { } sub
            ? ProfileErasure.EraseAsync(Db, sub, null, message.Actor ?? Protocol.Services.Auth, cancellationToken, save: false)
            : Task.CompletedTask;
}
