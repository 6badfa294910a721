using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.Health;
using SecurePlatform.ServiceDefaults.Security;

namespace Microsoft.Extensions.Hosting;

public static class MessagingExtensions
{
    /// <summary>
    /// MassTransit 8 on RabbitMQ from <c>ConnectionStrings:{connectionName}</c> (<c>amqp://user:pass@host:port[/vhost]</c>),
    /// with publisher confirms, retry with back-off then the <c>_error</c> queue, endpoint names prefixed by
    /// the service (integration events: <c>bus.AddIntegrationEventConsumer</c> / <c>AddIntegrationEventSink</c>), and readiness checks <c>rabbitmq</c> (broker reachable) and <c>masstransit</c> (bus endpoints). Start-up never waits for the broker.
    /// Event types resolve against <see cref="IntegrationEventCatalogue"/> only (tests add theirs with <c>bus.AddIntegrationEventTypes</c>).
    /// </summary>
    public static IHostApplicationBuilder AddMessaging(
        this IHostApplicationBuilder builder,
        Action<IBusRegistrationConfigurator>? configure = null,
        string connectionName = "rabbitmq")
    {
        var brokerUri = new Uri(builder.GetRequiredConnectionString(connectionName));
        var endpointPrefix = builder.Environment.ApplicationName.Replace(".Api", "", StringComparison.Ordinal);

        var endpointNames = new KebabCaseEndpointNameFormatter(endpointPrefix, includeNamespace: false);
        builder.Services.AddOptions<IntegrationEventEndpointOptions>()
            .BindConfiguration("Messaging:Events")
            .PostConfigure(o => o.QueueName ??= endpointNames.Consumer<IntegrationEventBatchConsumer>())
            .ValidateRulesOnStart(IntegrationEventEndpointOptions.Validate);

        builder.Services.TryAddSingleton(new IntegrationEventTypes());
        builder.Services.AddMassTransit(bus =>
        {
            bus.SetEndpointNameFormatter(endpointNames);
            bus.ConfigureHealthCheckOptions(health =>
            {
                health.Name = "masstransit";
                // The outbox absorbs a broker outage (no request fails): readiness says Degraded, with 200.
                health.MinimalFailureStatus = HealthStatus.Degraded;
                health.Tags.Add(HealthTags.Ready);
            });
            configure?.Invoke(bus);
            bus.UsingRabbitMq((context, rabbit) =>
            {
                rabbit.Host(brokerUri, host => host.PublisherConfirmation = true);
                rabbit.UseMessageRetry(retry =>
                {
                    retry.Exponential(5, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(400));
                    // Unknown types, unreadable or invalid events: retrying cannot help, to the error queue at once.
                    retry.Ignore<UnprocessableIntegrationEventsException>();
                });
                rabbit.ConfigureEndpoints(context);
            });
        });
        builder.Services.AddSingleton(new RabbitMqHealthCheck(brokerUri));
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            connectionName,
            sp => sp.GetRequiredService<RabbitMqHealthCheck>(),
            HealthStatus.Degraded, // events wait in the outbox; see HealthTags.Ready
            [HealthTags.Ready],
            TimeSpan.FromSeconds(5)));
        builder.Services.Configure<MassTransitHostOptions>(o =>
        {
            o.WaitUntilStarted = false;
            o.StopTimeout = TimeSpan.FromSeconds(10);
        });
        builder.Services.AddRequiredSecret($"ConnectionStrings:{connectionName}", SecretFormat.AmqpUri);
        // MassTransit's spans (trace context through RabbitMQ) and metrics, beside the defaults' telemetry.
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddSource(MassTransit.Logging.DiagnosticHeaders.DefaultListenerName));
        builder.Services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddMeter(MassTransit.Monitoring.InstrumentationOptions.MeterName));
        return builder;
    }

    /// <summary>
    /// Publishes <typeparamref name="TContext"/>'s outbox rows in the background (see <c>OutboxDispatcher</c>), woken
    /// as soon as a save or transaction with outbox rows commits (<see cref="OutboxSignal"/>). The context itself is
    /// registered by ServiceDefaults' <c>AddPlatformDbContext</c>; the commit interceptor is layered onto it here
    /// through EF Core's <c>ConfigureDbContext</c>, so ServiceDefaults knows nothing of the outbox.
    /// </summary>
    public static IHostApplicationBuilder AddOutboxDispatcher<TContext>(this IHostApplicationBuilder builder, Action<OutboxOptions>? configure = null)
        where TContext : DbContext
    {
        builder.Services.TryAddSingleton<OutboxSignal>();
        builder.Services.TryAddSingleton<OutboxSignalInterceptor>();
        // Singleton: AddPlatformDbContext pools the context, whose options are built once from the root provider.
        builder.Services.ConfigureDbContext<TContext>(
            (sp, options) => options.AddInterceptors(sp.GetRequiredService<OutboxSignalInterceptor>()),
            ServiceLifetime.Singleton);

        var options = builder.Services.AddOptions<OutboxOptions>().BindConfiguration("Outbox").ValidateRulesOnStart(OutboxOptions.Validate);
        if (configure is not null)
        {
            options.Configure(configure);
        }
        builder.Services.AddHostedService<OutboxDispatcher<TContext>>();
        return builder;
    }
}
