using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SecurePlatform.Contracts;

namespace SecurePlatform.Messaging;

/// <summary>
/// The sink of a service that reacts to events one by one: each event goes to the
/// <see cref="IIntegrationEventConsumer{TEvent}"/>s of its type, in a DI scope of its own (own DbContext, own
/// transaction) and in a span of the producing request's trace. A failing event does not stop the others.
/// </summary>
internal sealed partial class IntegrationEventConsumers(IServiceScopeFactory scopes, ILogger<IntegrationEventConsumers> logger) : IIntegrationEventSink
{
    private static readonly ConcurrentDictionary<Type, Func<IServiceProvider, IntegrationEvent, CancellationToken, Task>> Invokers = new();

    public async Task<IReadOnlyList<IntegrationEventFailure>> ReceiveAsync(IReadOnlyList<IncomingIntegrationEvent> events, CancellationToken cancellationToken)
    {
        var failures = new List<IntegrationEventFailure>();
        foreach (var incoming in events)
        {
            var type = incoming.Event.GetType();
            using var activity = Microsoft.Extensions.Hosting.Telemetry.Source.StartActivity($"consume {type.Name}", ActivityKind.Consumer, incoming.Parent);
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await Invokers.GetOrAdd(type, Invoker)(scope.ServiceProvider, incoming.Event, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
                LogConsumerFailed(ex, incoming.Event.EventId, type.Name);
                failures.Add(new IntegrationEventFailure(incoming.Event.EventId, type.FullName!, ex.GetType().Name + ": " + ex.Message, Permanent: false));
            }
        }
        return failures;
    }

    private static Func<IServiceProvider, IntegrationEvent, CancellationToken, Task> Invoker(Type eventType) =>
        (Func<IServiceProvider, IntegrationEvent, CancellationToken, Task>)typeof(IntegrationEventConsumers)
            .GetMethod(nameof(InvokeAsync), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(eventType)
            .CreateDelegate(typeof(Func<IServiceProvider, IntegrationEvent, CancellationToken, Task>));

    private static async Task InvokeAsync<TEvent>(IServiceProvider services, IntegrationEvent message, CancellationToken cancellationToken)
        where TEvent : IntegrationEvent
    {
        foreach (var consumer in services.GetServices<IIntegrationEventConsumer<TEvent>>())
        {
            await consumer.ConsumeAsync((TEvent)message, cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consuming event {EventId} ({Type}) failed; the batch will be retried for it")]
    private partial void LogConsumerFailed(Exception exception, Guid eventId, string type);
}
