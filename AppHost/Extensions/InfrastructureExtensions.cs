namespace SecurePlatform.AppHost.Extensions;

/// <summary>The servers the services reference, by the resource names of ARCHITECTURE.md.</summary>
public sealed record Infrastructure(
    IResourceBuilder<IResourceWithConnectionString> AuthDb,
    IResourceBuilder<IResourceWithConnectionString> TokenDb,
    IResourceBuilder<IResourceWithConnectionString> AuditDb,
    IResourceBuilder<IResourceWithConnectionString> ProfileDb,
    IResourceBuilder<IResourceWithConnectionString> Redis,
    IResourceBuilder<IResourceWithConnectionString> RabbitMq);

public static class InfrastructureExtensions
{
    /// <summary>
    /// <c>Infrastructure:Mode</c> picks where PostgreSQL, Redis and RabbitMQ come from:
    /// <list type="bullet">
    /// <item><c>containers</c> (default): started by the orchestrator in Docker or Podman;</item>
    /// <item><c>existing</c>: servers that already run, given as <c>ConnectionStrings:authdb</c>, <c>tokendb</c>,
    /// <c>auditdb</c>, <c>profiledb</c>, <c>redis</c>, <c>rabbitmq</c> (what <c>eng/infra.sh env</c> prints; for
    /// machines without a container runtime, ./run.sh and the AppHost tests).</item>
    /// </list>
    /// Nothing else differs: the services get the same connection names either way.
    /// </summary>
    public static Infrastructure AddInfrastructure(this IDistributedApplicationBuilder builder)
    {
        var mode = builder.Configuration["Infrastructure:Mode"] ?? "containers";
        return mode.ToLowerInvariant() switch
        {
            "containers" => builder.AddContainerInfrastructure(),
            "existing" => builder.AddExistingInfrastructure(),
            _ => throw new InvalidOperationException($"Infrastructure:Mode must be 'containers' or 'existing', not '{mode}'."),
        };
    }

    private static Infrastructure AddContainerInfrastructure(this IDistributedApplicationBuilder builder)
    {
        // Secrets are parameters: generated once and kept in the AppHost's user secrets in run mode,
        // asked for (never written to the output) when publishing.
        var postgresPassword = builder.AddParameter("postgres-password", new GenerateParameterDefault { MinLength = 24, Special = false }, secret: true, persist: true);
        var rabbitPassword = builder.AddParameter("rabbitmq-password", new GenerateParameterDefault { MinLength = 24, Special = false }, secret: true, persist: true);

        var postgres = builder.AddPostgres("postgres", password: postgresPassword).WithDataVolume();
        return new Infrastructure(
            postgres.AddDatabase("authdb"),
            postgres.AddDatabase("tokendb"),
            postgres.AddDatabase("auditdb"),
            postgres.AddDatabase("profiledb"),
            builder.AddRedis("redis"),
            builder.AddRabbitMQ("rabbitmq", password: rabbitPassword).WithManagementPlugin());
    }

    private static Infrastructure AddExistingInfrastructure(this IDistributedApplicationBuilder builder) => new(
        builder.AddConnectionString("authdb"),
        builder.AddConnectionString("tokendb"),
        builder.AddConnectionString("auditdb"),
        builder.AddConnectionString("profiledb"),
        builder.AddConnectionString("redis"),
        builder.AddConnectionString("rabbitmq"));

    /// <summary>A service's database, Redis and the broker: referenced, and waited for.</summary>
    public static IResourceBuilder<ProjectResource> WithInfrastructure(
        this IResourceBuilder<ProjectResource> project, IResourceBuilder<IResourceWithConnectionString> database, Infrastructure infra) => project
        .WithReference(database).WaitFor(database)
        .WithReference(infra.Redis).WaitFor(infra.Redis)
        .WithReference(infra.RabbitMq).WaitFor(infra.RabbitMq)
        .WithRateLimitKeyPrefix();

    /// <summary>
    /// Passes <c>RateLimiting:KeyPrefix</c> on when the AppHost is given one: platforms that share a Redis (test runs
    /// beside a developer's platform) must not share budgets.
    /// </summary>
    private static IResourceBuilder<ProjectResource> WithRateLimitKeyPrefix(this IResourceBuilder<ProjectResource> project) =>
        project.ApplicationBuilder.Configuration["RateLimiting:KeyPrefix"] is { Length: > 0 } prefix
            ? project.WithEnvironment("RateLimiting__KeyPrefix", prefix)
            : project;
}
