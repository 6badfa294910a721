using Xunit;

namespace SecurePlatform.TestSupport;

/// <summary>
/// A PostgreSQL, Redis and RabbitMQ of the fault tests' own (data under .local/infra-fault, ports shifted by
/// FAULT_INFRA_PORT_OFFSET, default 100), so stopping a server there disturbs no other test.
/// </summary>
public class FaultInfrastructure : IAsyncLifetime
{
    public InfraInstance Infra { get; } = new(
        Path.Combine(TestEnvironment.RepoRoot, ".local", "infra-fault"),
        portOffset: int.TryParse(Environment.GetEnvironmentVariable("FAULT_INFRA_PORT_OFFSET"), out var offset) ? offset : 100);

    public IReadOnlyDictionary<string, string> ConnectionStrings { get; private set; } = new Dictionary<string, string>();

    public virtual Task InitializeAsync()
    {
        Infra.Up();
        ConnectionStrings = Infra.Env();
        return Task.CompletedTask;
    }

    public virtual Task DisposeAsync()
    {
        Infra.Down();
        return Task.CompletedTask;
    }
}
