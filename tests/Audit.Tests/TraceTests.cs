using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Audit.Tests;

public sealed class ProducerDbContext(DbContextOptions<ProducerDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.AddIntegrationEventTables();
}

/// <summary>The trace an HTTP request starts in a producer continues through the outbox and RabbitMQ into the audit consumer.</summary>
public class TraceTests
{
    /// <summary>A producer service as the platform builds one: service defaults, a database with an outbox, the bus.</summary>
    internal static async Task<WebApplication> StartProducerAsync(string name, IReadOnlyDictionary<string, string>? infra = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:producerdb"] = TestEnvironment.UniqueDatabase("postgres", name, infra),
            ["ConnectionStrings:rabbitmq"] = infra?["rabbitmq"] ?? TestEnvironment.ConnectionString("rabbitmq"),
            ["Outbox:PublishTimeout"] = "00:00:03",
            ["Security:RequireHttps"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.AddServiceDefaults();
        builder.AddPlatformDbContext<ProducerDbContext>("producerdb");
        builder.AddMessaging();
        builder.AddOutboxDispatcher<ProducerDbContext>();
        var app = builder.Build();
        app.UseServiceDefaults();
        // Like a sign-in endpoint: the state change and the event in one transaction; no CorrelationId set by hand.
        app.MapPost("/login/{sub}", async (string sub, ProducerDbContext db, HttpContext http) =>
        {
            db.AddIntegrationEvent(new LoginSucceeded { Subject = sub, Actor = sub, SourceService = "producer", SessionId = "s1" });
            await db.SaveChangesAsync();
            return TypedResults.Ok(new { traceId = Activity.Current?.TraceId.ToString() });
        });
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ProducerDbContext>();
            await db.Database.EnsureDeletedAsync();
            await db.Database.EnsureCreatedAsync();
        }
        await app.StartAsync();
        return app;
    }

    [Fact]
    public async Task The_audit_row_records_the_trace_id_of_the_producers_http_request()
    {
        await using var audit = await new AuditHost("trace").StartAsync();
        await using var producer = await StartProducerAsync("traceproducer");
        using var http = new HttpClient { BaseAddress = new Uri(producer.Urls.First()) };
        var traceId = ActivityTraceId.CreateRandom();
        var subject = "u-" + Guid.NewGuid().ToString("N");

        // The caller's trace: HttpClient sends it as traceparent (its own instrumentation would replace a hand-written header).
        using (var caller = new Activity("test caller").SetParentId(traceId, ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded).Start())
        {
            var response = await HttpAssert.OkJsonAsync<System.Text.Json.JsonElement>(await http.PostAsync($"/login/{subject}", null));
            Assert.Equal(traceId.ToHexString(), response.GetProperty("traceId").GetString());
        }

        await audit.WaitForCountAsync(subject, 1);
        var stored = await audit.OwnerAsync(async c =>
        {
            await using var cmd = new NpgsqlCommand("SELECT correlation_id FROM audit_events WHERE subject = $1", c) { Parameters = { new() { Value = subject } } };
            return (string?)await cmd.ExecuteScalarAsync();
        });
        Assert.Equal(traceId.ToHexString(), stored);
        await producer.StopAsync();
    }
}
