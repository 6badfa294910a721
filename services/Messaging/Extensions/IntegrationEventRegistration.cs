using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// How a service subscribes to integration events: it names its consumers (one event at a time) or its own
/// sink (a batch at a time); both are fed by one <see cref="IntegrationEventBatchConsumer"/> on one queue, bound
/// to the batch message type only (every producer publishes outbox batches).
/// </summary>
public static class IntegrationEventRegistration
{
    /// <summary>Feeds every event of the types <typeparamref name="TConsumer"/> implements <see cref="IIntegrationEventConsumer{TEvent}"/> for to it.</summary>
    public static IBusRegistrationConfigurator AddIntegrationEventConsumer<TConsumer>(this IBusRegistrationConfigurator bus)
        where TConsumer : class
    {
        var eventTypes = typeof(TConsumer).GetInterfaces()
            .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IIntegrationEventConsumer<>))
            .Select(i => i.GetGenericArguments()[0])
            .ToList();
        if (eventTypes.Count == 0)
        {
            throw new InvalidOperationException($"{typeof(TConsumer).Name} implements no IIntegrationEventConsumer<TEvent>.");
        }
        foreach (var eventType in eventTypes)
        {
            bus.AddScoped(typeof(IIntegrationEventConsumer<>).MakeGenericType(eventType), typeof(TConsumer));
        }
        UseSink(bus, typeof(IntegrationEventConsumers));
        Subscribe(bus, eventTypes, takesEveryEvent: false);
        return bus;
    }

    /// <summary>
    /// Feeds every event of <paramref name="eventTypes"/> to <typeparamref name="TSink"/> (a singleton), a batch at
    /// a time. <paramref name="takesEveryEvent"/>: events of unknown types are failures, not skipped.
    /// </summary>
    public static IBusRegistrationConfigurator AddIntegrationEventSink<TSink>(this IBusRegistrationConfigurator bus, IReadOnlyCollection<Type> eventTypes, bool takesEveryEvent = false)
        where TSink : class, IIntegrationEventSink
    {
        UseSink(bus, typeof(TSink));
        Subscribe(bus, eventTypes, takesEveryEvent);
        return bus;
    }

    /// <summary>
    /// Makes event types outside <see cref="IntegrationEventCatalogue"/> publishable and readable in this host: for
    /// tests and benches only (a platform event belongs in the catalogue). Call it before subscribing to them.
    /// </summary>
    public static IBusRegistrationConfigurator AddIntegrationEventTypes(this IBusRegistrationConfigurator bus, params IEnumerable<Type> eventTypes)
    {
        var types = KnownTypes(bus);
        foreach (var eventType in eventTypes)
        {
            types.Add(eventType);
        }
        return bus;
    }

    private static IntegrationEventTypes KnownTypes(IServiceCollection services) =>
        services.FirstOrDefault(d => d.ServiceType == typeof(IntegrationEventTypes))?.ImplementationInstance as IntegrationEventTypes
        ?? throw new InvalidOperationException("Integration events are registered inside AddMessaging(bus => ...).");

    private static void UseSink(IBusRegistrationConfigurator bus, Type sinkType)
    {
        var existing = bus.FirstOrDefault(d => d.ServiceType == typeof(IIntegrationEventSink));
        if (existing is null)
        {
            bus.AddSingleton(typeof(IIntegrationEventSink), sinkType);
        }
        else if (existing.ImplementationType != sinkType)
        {
            throw new InvalidOperationException($"A service has one integration event sink; {existing.ImplementationType?.Name} is registered already.");
        }
    }

    private static void Subscribe(IBusRegistrationConfigurator bus, IEnumerable<Type> eventTypes, bool takesEveryEvent)
    {
        var subscription = bus.FirstOrDefault(d => d.ServiceType == typeof(IntegrationEventSubscription))?.ImplementationInstance as IntegrationEventSubscription;
        if (subscription is null)
        {
            subscription = new IntegrationEventSubscription();
            bus.TryAddSingleton(subscription);
            bus.AddConsumer<IntegrationEventBatchConsumer, IntegrationEventEndpointDefinition<IntegrationEventBatchConsumer>>();
        }
        subscription.TakesEveryEvent |= takesEveryEvent;
        var known = KnownTypes(bus);
        foreach (var eventType in eventTypes)
        {
            if (!eventType.IsSubclassOf(typeof(IntegrationEvent)) || eventType.IsAbstract)
            {
                throw new InvalidOperationException($"{eventType.Name} is not a concrete integration event.");
            }
            // A subscription to a type that never resolves would fail every such event at run time; refuse it now.
            if (!known.Contains(eventType))
            {
                throw new InvalidOperationException(
                    $"{eventType.FullName} is not in IntegrationEventCatalogue.All; add it there (or, in a test, bus.AddIntegrationEventTypes(typeof({eventType.Name})) first).");
            }
            subscription.Add(eventType);
        }
    }
}
