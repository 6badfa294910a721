using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SecurePlatform.Contracts;

namespace SecurePlatform.Messaging.Tests;

/// <summary>The one list of event types, and how a host resolves stored type names against it (no servers needed).</summary>
public class IntegrationEventCatalogueTests
{
    private static readonly Type[] ContractEventTypes = typeof(IntegrationEvent).Assembly.GetTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false } && t.IsSubclassOf(typeof(IntegrationEvent)))
        .ToArray();

    [Fact]
    public void Every_integration_event_in_Contracts_is_in_the_catalogue_once()
    {
        var missing = ContractEventTypes.Except(IntegrationEventCatalogue.All).Select(t => t.Name).ToList();
        Assert.True(missing.Count == 0, "add to IntegrationEventCatalogue.All: " + string.Join(", ", missing));
        Assert.Equal(IntegrationEventCatalogue.All.Count, IntegrationEventCatalogue.All.Distinct().Count());
        Assert.All(IntegrationEventCatalogue.All, t => Assert.Contains(t, ContractEventTypes));
        // audit-service names rows by the short name, so it must be unique too.
        Assert.Equal(IntegrationEventCatalogue.All.Count, IntegrationEventCatalogue.All.Select(t => t.Name).Distinct(StringComparer.Ordinal).Count());
        Assert.True(IntegrationEventCatalogue.All.Count >= 23);
    }

    [Fact]
    public void A_host_resolves_catalogue_types_by_full_name_and_nothing_else()
    {
        var types = new IntegrationEventTypes();
        Assert.All(IntegrationEventCatalogue.All, t => Assert.Same(t, types.Resolve(t.FullName!)));
        Assert.Null(types.Resolve(typeof(WidgetCreated).FullName!)); // a test type, not registered
        Assert.Null(types.Resolve(typeof(IntegrationEvent).FullName!));
        Assert.Null(types.Resolve(typeof(string).FullName!));
        Assert.Null(types.Resolve(nameof(LoginSucceeded))); // full names only
    }

    [Fact]
    public void Test_event_types_are_registered_explicitly_before_they_are_subscribed_to()
    {
        using var registered = Build(bus =>
        {
            bus.AddIntegrationEventTypes(typeof(WidgetCreated));
            bus.AddIntegrationEventConsumer<WidgetCreatedConsumer>();
        });
        Assert.Same(typeof(WidgetCreated), registered.Services.GetRequiredService<IntegrationEventTypes>().Resolve(typeof(WidgetCreated).FullName!));

        var refused = Assert.Throws<InvalidOperationException>(() => Build(bus => bus.AddIntegrationEventConsumer<WidgetCreatedConsumer>()));
        Assert.Contains("IntegrationEventCatalogue.All", refused.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => Build(bus => bus.AddIntegrationEventTypes(typeof(IntegrationEvent))));
    }

    [Fact]
    public void The_outbox_dispatcher_adds_its_commit_interceptor_to_the_pooled_context_and_ServiceDefaults_does_not()
    {
        using var withOutbox = Build(_ => { }, outbox: true);
        Assert.Contains(Interceptors(withOutbox), i => i is OutboxSignalInterceptor);

        using var withoutOutbox = Build(_ => { }, outbox: false);
        Assert.DoesNotContain(Interceptors(withoutOutbox), i => i is OutboxSignalInterceptor);
    }

    private static IEnumerable<IInterceptor> Interceptors(IHost host)
    {
        using var scope = host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<WidgetDbContext>();
        return db.GetService<IDbContextOptions>().FindExtension<CoreOptionsExtension>()?.Interceptors?.ToList() ?? [];
    }

    /// <summary>A host as the services build theirs; nothing connects until it starts, and it is never started.</summary>
    private static IHost Build(Action<IBusRegistrationConfigurator> configure, bool outbox = false)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing", ApplicationName = "catalogue-tests" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:widgetdb"] = "Host=127.0.0.1;Port=1;Username=u;Password=p;Database=widgetdb",
            ["ConnectionStrings:rabbitmq"] = "amqp://u:p@127.0.0.1:1",
        });
        builder.AddPlatformDbContext<WidgetDbContext>("widgetdb");
        builder.AddMessaging(configure);
        if (outbox)
        {
            builder.AddOutboxDispatcher<WidgetDbContext>();
        }
        return builder.Build();
    }
}
