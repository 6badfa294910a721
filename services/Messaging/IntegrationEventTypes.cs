using SecurePlatform.Contracts;

namespace SecurePlatform.Messaging;

/// <summary>
/// The event types a host can publish and read: <see cref="IntegrationEventCatalogue.All"/>, plus the types a
/// test or bench names with <c>bus.AddIntegrationEventTypes</c>. Stored type names resolve only to these (never
/// to an arbitrary type, and never by scanning loaded assemblies). One instance per host, filled while the
/// host is built and read-only once it runs.
/// </summary>
public sealed class IntegrationEventTypes
{
    private readonly Dictionary<string, Type> _byFullName = new(IntegrationEventCatalogue.ByFullName, StringComparer.Ordinal);

    public Type? Resolve(string fullName) => _byFullName.GetValueOrDefault(fullName);

    public bool Contains(Type eventType) => _byFullName.TryGetValue(eventType.FullName ?? "", out var known) && known == eventType;

    internal void Add(Type eventType)
    {
        if (!eventType.IsSubclassOf(typeof(IntegrationEvent)) || eventType.IsAbstract)
        {
            throw new InvalidOperationException($"{eventType.Name} is not a concrete integration event.");
        }
        if (_byFullName.TryGetValue(eventType.FullName!, out var known) && known != eventType)
        {
            throw new InvalidOperationException($"Two event types are named {eventType.FullName}.");
        }
        _byFullName[eventType.FullName!] = eventType;
    }
}
