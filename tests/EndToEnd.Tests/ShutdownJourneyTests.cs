using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Npgsql;
using RabbitMQ.Client;
using SecurePlatform.TestSupport;
using Xunit.Abstractions;

namespace SecurePlatform.EndToEnd.Tests;

/// <summary>
/// SIGTERM under load, as Kubernetes stops a pod: auth-service (the real process) is registering accounts, each
/// of which commits a user and its UserRegistered event in one transaction. The guarantee: a request either gets
/// its full answer or is refused before anything is committed; every event of an answered request is on the bus
/// once the process has exited (the outbox flushes at stop; if the broker were away, it would stay in the outbox
/// and go out after the next start).
/// </summary>
public class ShutdownJourneyTests(ITestOutputHelper output)
{
    private const string BatchExchange = "SecurePlatform.Contracts:IntegrationEventBatch";

    private sealed record Attempt(string Email, string Outcome, string? UserId);

    [Fact]
    public async Task Sigterm_during_load_loses_no_answered_request_and_no_event()
    {
        var infra = new[] { "authdb", "redis", "rabbitmq" }.ToDictionary(n => n, TestEnvironment.ConnectionString);
        var suffix = "shutdown";
        var ports = new Dictionary<string, int> { ["Auth.Api"] = ServiceProcess.FreePort(), ["Token.Api"] = ServiceProcess.FreePort() };
        var environment = Platform.EnvironmentFor("Auth.Api", infra, suffix, ports);

        // Our own queue on the batch exchange: what reaches it is what the service put on the bus.
        await using var rabbit = await new ConnectionFactory { Uri = new Uri(infra["rabbitmq"]) }.CreateConnectionAsync();
        await using var channel = await rabbit.CreateChannelAsync();
        await channel.ExchangeDeclareAsync(BatchExchange, ExchangeType.Fanout, durable: true);
        var queue = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(queue, BatchExchange, "");

        await using var service = ServiceProcess.Start("Auth.Api", environment, ports["Auth.Api"]);
        await service.WaitUntilAliveAsync(Platform.StartupTimeout, "/health");

        var attempts = new ConcurrentBag<Attempt>();
        using var http = new HttpClient { BaseAddress = service.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var stop = new CancellationTokenSource();
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task WorkerAsync()
        {
            await start.Task;
            while (!stop.IsCancellationRequested)
            {
                var email = $"sd-{Guid.NewGuid():N}"[..24] + "@example.test";
                try
                {
                    var response = await http.PostAsJsonAsync("/auth/register", new { email, password = "Correct-Horse-" + Guid.NewGuid().ToString("N")[..10] });
                    var body = await response.Content.ReadAsStringAsync();
                    var id = response.StatusCode == HttpStatusCode.Created ? JsonSerializer.Deserialize<JsonElement>(body).GetProperty("id").GetString() : null;
                    attempts.Add(new Attempt(email, ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture), id));
                }
                catch (HttpRequestException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
                {
                    attempts.Add(new Attempt(email, "refused", null));
                    await Task.Delay(20);
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
                {
                    attempts.Add(new Attempt(email, "broken:" + ex.GetType().Name, null));
                }
            }
        }
        var workers = Enumerable.Range(0, 8).Select(_ => Task.Run(WorkerAsync)).ToList();
        start.SetResult();

        // Mid-load: once requests are completing steadily.
        await Eventually.HoldsAsync(() => Task.FromResult(attempts.Count(a => a.UserId is not null) >= 30), TimeSpan.FromSeconds(120), "30 registrations answered");
        var clock = Stopwatch.StartNew();
        Process.Start("kill", ["-TERM", service.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        var exitCode = await service.WaitForExitAsync(TimeSpan.FromSeconds(30)); // inside Kubernetes' default grace period
        var stoppedIn = clock.Elapsed;
        await Task.Delay(500); // a few refused attempts after the exit
        stop.Cancel();
        await Task.WhenAll(workers);

        var all = attempts.ToList();
        var answered = all.Where(a => a.UserId is not null).ToList();
        output.WriteLine($"exit {exitCode} after {stoppedIn.TotalMilliseconds:0} ms; " +
            string.Join(", ", all.GroupBy(a => a.Outcome).Select(g => $"{g.Key}: {g.Count()}")));
        Assert.Equal(0, exitCode);
        // Only full answers (201) or a refusal: no 5xx, and nothing else a client could not act on.
        Assert.All(all, a => Assert.True(a.Outcome == "201" || a.Outcome == "refused" || a.Outcome.StartsWith("broken:", StringComparison.Ordinal), $"{a.Email}: {a.Outcome}"));

        // The database: every answered request's user and event are there; a request that got no answer committed nothing.
        await using var db = new NpgsqlConnection(environment["ConnectionStrings__authdb"]);
        await db.OpenAsync();
        var users = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        await using (var command = new NpgsqlCommand("SELECT email FROM users WHERE email = ANY(@emails)", db))
        {
            command.Parameters.AddWithValue("emails", all.Select(a => a.Email).ToArray());
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                users.Add(reader.GetString(0));
            }
        }
        Assert.All(answered, a => Assert.Contains(a.Email, users));
        Assert.All(all.Where(a => a.UserId is null), a => Assert.DoesNotContain(a.Email, users));

        var events = new Dictionary<string, (Guid EventId, bool Sent)>();
        await using (var command = new NpgsqlCommand(
            "SELECT payload->>'subject', event_id, sent_at IS NOT NULL FROM outbox_messages WHERE type = 'SecurePlatform.Contracts.UserRegistered'", db))
        {
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                events[reader.GetString(0)] = (reader.GetGuid(1), reader.GetBoolean(2));
            }
        }
        Assert.All(answered, a => Assert.True(events.TryGetValue(a.UserId!, out var e) && e.Sent, $"UserRegistered of {a.UserId} committed and published before exit"));

        // The bus: each of those events is in a batch that reached our queue.
        var delivered = new HashSet<Guid>();
        while (await channel.BasicGetAsync(queue, autoAck: true) is { } message)
        {
            var envelope = JsonSerializer.Deserialize<JsonElement>(message.Body.Span);
            foreach (var e in envelope.GetProperty("message").GetProperty("events").EnumerateArray())
            {
                delivered.Add(e.GetProperty("eventId").GetGuid());
            }
        }
        Assert.All(answered, a => Assert.Contains(events[a.UserId!].EventId, delivered));
    }
}
