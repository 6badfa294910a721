using Microsoft.EntityFrameworkCore;
using SecurePlatform.Contracts;

namespace SecurePlatform.Messaging;

/// <summary>
/// A consumer that handles each event id once: the processed-event row and the handler's changes commit in
/// one transaction, so a redelivered (or concurrently delivered) event changes nothing the second time.
/// Register with <c>bus.AddIntegrationEventConsumer&lt;T&gt;()</c>; events reach it out of batches, one at a time.
/// </summary>
public abstract class IdempotentConsumer<TEvent, TContext>(TContext db) : IIntegrationEventConsumer<TEvent>
    where TEvent : IntegrationEvent
    where TContext : DbContext
{
    protected TContext Db { get; } = db;

    public async Task ConsumeAsync(TEvent message, CancellationToken cancellationToken)
    {
        var consumer = GetType().Name;
        await using var transaction = await Db.Database.BeginTransactionAsync(cancellationToken);
        // Blocks on a concurrent delivery of the same id until that one commits, then inserts nothing.
        var inserted = await Db.Database.ExecuteSqlAsync(
            $"INSERT INTO processed_events (event_id, consumer, processed_at) VALUES ({message.EventId}, {consumer}, {DateTimeOffset.UtcNow}) ON CONFLICT DO NOTHING",
            cancellationToken);
        if (inserted == 0)
        {
            return;
        }
        await HandleAsync(message, cancellationToken);
        await Db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    protected abstract Task HandleAsync(TEvent message, CancellationToken cancellationToken);
}
