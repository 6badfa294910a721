using MassTransit;
using Microsoft.EntityFrameworkCore;
using SecurePlatform.Contracts;

namespace SecurePlatform.ServiceDefaults.Messaging;

/// <summary>
/// A consumer that handles each event id once: the processed-event row and the handler's changes commit in
/// one transaction, so a redelivered (or concurrently delivered) event changes nothing the second time.
/// </summary>
public abstract class IdempotentConsumer<TEvent, TContext>(TContext db) : IConsumer<TEvent>
    where TEvent : IntegrationEvent
    where TContext : DbContext
{
    protected TContext Db { get; } = db;

    public async Task Consume(ConsumeContext<TEvent> context)
    {
        var consumer = GetType().Name;
        await using var transaction = await Db.Database.BeginTransactionAsync(context.CancellationToken);
        // Blocks on a concurrent delivery of the same id until that one commits, then inserts nothing.
        var inserted = await Db.Database.ExecuteSqlAsync(
            $"INSERT INTO processed_events (event_id, consumer, processed_at) VALUES ({context.Message.EventId}, {consumer}, {DateTimeOffset.UtcNow}) ON CONFLICT DO NOTHING",
            context.CancellationToken);
        if (inserted == 0)
        {
            return;
        }
        await HandleAsync(context.Message, context);
        await Db.SaveChangesAsync(context.CancellationToken);
        await transaction.CommitAsync(context.CancellationToken);
    }

    protected abstract Task HandleAsync(TEvent message, ConsumeContext<TEvent> context);
}
