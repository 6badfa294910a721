using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SecurePlatform.TestSupport;
using StackExchange.Redis;

namespace SecurePlatform.Auth.Tests;

/// <summary>
/// The sign-in limiter against a Redis of its own (ports shifted by FAULT_INFRA_PORT_OFFSET, +1 so it never meets the
/// ServiceDefaults fault servers), which these tests pause and stop: a slow Redis makes sign-ins slower, a stopped one
/// still fails closed at once.
/// </summary>
public sealed class ThrottleRedisFaultTests : IAsyncLifetime
{
    private const string Password = "zebra glacier 47 lantern";

    private readonly InfraInstance _redis = new(
        Path.Combine(TestEnvironment.RepoRoot, ".local", "infra-throttle-fault"),
        FaultPorts.FreeOffset(FaultPorts.StartOffset + 1, [FaultPorts.Redis]));

    private string _connection = "";

    public Task InitializeAsync()
    {
        _redis.Up("redis");
        _connection = _redis.Env()["redis"];
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _redis.Down("redis");
        return Task.CompletedTask;
    }

    [Fact]
    public async Task While_Redis_is_paused_longer_than_the_old_timeout_concurrent_sign_ins_succeed_later_instead_of_503()
    {
        await using var app = await StartAsync("throttle_paused");
        var email = AuthApp.NewEmail();
        await app.RegisterAsync(email, Password);
        app.Logs.Clear(); // start-up's own noise (the database created on first use) is not under test
        await using var admin = await ConnectionMultiplexer.ConnectAsync(_connection);

        for (var round = 0; round < 3; round++)
        {
            // 1 s: four times the 250 ms that used to turn a busy host into 503s.
            await admin.GetServer(admin.GetEndPoints()[0]).ExecuteAsync("CLIENT", "PAUSE", "1000", "ALL");
            var clock = Stopwatch.StartNew();
            var responses = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => app.LoginAsync(email, Password)));
            var elapsed = clock.Elapsed;

            Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
            Assert.True(elapsed >= TimeSpan.FromMilliseconds(700), $"round {round}: the sign-ins waited for Redis ({elapsed})");
        }
        AssertNoErrors(app);
    }

    [Fact]
    public async Task With_Redis_stopped_sign_in_fails_closed_at_once_with_a_503_logged_as_an_outage_not_as_unhandled()
    {
        await using var app = await StartAsync("throttle_stopped");
        var email = AuthApp.NewEmail();
        await app.RegisterAsync(email, Password);
        app.Logs.Clear(); // start-up's own noise (the database created on first use) is not under test
        _redis.Down("redis");
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var clock = Stopwatch.StartNew();
                var response = await app.LoginAsync(email, Password);
                var elapsed = clock.Elapsed;

                await HttpAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable);
                Assert.NotNull(response.Headers.RetryAfter);
                // Refused connections fail at once, not after the 2 s timeout (the margin is for a busy CI host).
                Assert.True(elapsed < TimeSpan.FromSeconds(1.5), $"attempt {i}: 503 in {elapsed}");
            }
            Assert.Empty(app.TokenService.TokenRequests);
            AssertNoErrors(app);
            Assert.Contains(app.Logs, l => l.Category.EndsWith("DependencyOutageExceptionHandler", StringComparison.Ordinal) && l.Level == LogLevel.Warning);
        }
        finally
        {
            _redis.Up("redis");
        }

        // Back: sign-ins work again once the circuit closes.
        await Eventually.HoldsAsync(async () => (await app.LoginAsync(email, Password)).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(30), "sign-in works again after Redis restarts");
    }

    /// <summary>
    /// Nothing logged as an unhandled exception (the middleware's error line, or the limiter's exception anywhere).
    /// The Redis client's own connection errors while Redis is stopped are expected and not under test.
    /// </summary>
    private static void AssertNoErrors(LoggedAuthApp app)
    {
        var errors = app.Logs
            .Where(l => l.Level >= LogLevel.Error)
            .Where(l => l.Category.StartsWith("Microsoft.AspNetCore.Diagnostics", StringComparison.Ordinal)
                        || l.Message.Contains("RateLimitStore", StringComparison.Ordinal)
                        || l.Message.Contains("unhandled", StringComparison.OrdinalIgnoreCase))
            .Select(l => $"{l.Category}: {l.Message}")
            .ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }

    private async Task<LoggedAuthApp> StartAsync(string suffix)
    {
        var app = new LoggedAuthApp(suffix, new()
        {
            ["ConnectionStrings:redis"] = _connection,
            ["RateLimiting:KeyPrefix"] = TestEnvironment.RateLimitKeyPrefix(suffix),
        });
        await ((IAsyncLifetime)app).InitializeAsync();
        return app;
    }

    /// <summary>An auth-service whose log lines the test can read.</summary>
    private sealed class LoggedAuthApp(string suffix, Dictionary<string, string?> settings) : AuthApp(suffix, settings)
    {
        public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Logs { get; } = new();

        protected override void ConfigureTestServices(IServiceCollection services)
        {
            base.ConfigureTestServices(services);
            services.AddSingleton<ILoggerProvider>(new QueueLoggerProvider(Logs));
        }
    }

    private sealed class QueueLoggerProvider(ConcurrentQueue<(string, LogLevel, string)> logs) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new QueueLogger(categoryName, logs);

        public void Dispose()
        {
        }
    }

    private sealed class QueueLogger(string category, ConcurrentQueue<(string, LogLevel, string)> logs) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                logs.Enqueue((category, logLevel, formatter(state, exception)));
            }
        }
    }
}
