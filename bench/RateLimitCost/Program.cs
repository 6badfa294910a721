using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SecurePlatform.Bench;
using SecurePlatform.ServiceDefaults.RateLimiting;
using StackExchange.Redis;

// What the shared rate limiter costs per call, isolated from the HTTP pipeline: the production RateLimitStore (Lua
// script, Polly timeout + circuit) against the real local Redis, one caller. Paths:
//   ceiling:  one budget (every request without a policy of its own; the middleware's call);
//   token:    two budgets in one script (/connect/token: client id + IP, and IP);
//   login:    what one sign-in adds: the ceiling call, then a 3-counter call standing in for the credential check's
//             attempt script, then a 1-key call standing in for its success/failure record (3 round trips).
// Reports wall and CPU per call (this process + redis-server when --redis-pid is given).
//
//   dotnet RateLimitCost.dll "<redis connection string>" [--seconds 5] [--redis-pid PID]
var connection = args.FirstOrDefault() ?? throw new ArgumentException("usage: RateLimitCost <redis connection string> [--seconds 5] [--redis-pid PID]");
var seconds = Option("--seconds", 5);
var redisPid = Option("--redis-pid", 0);

using var redis = await ConnectionMultiplexer.ConnectAsync(connection);
var options = new RateLimitingOptions { KeyPrefix = $"rl:bench:{Guid.NewGuid():N}:" };
var store = new RateLimitStore(redis, Options.Create(options), NullLogger<RateLimitStore>.Instance);

(string, string)[] ceiling = [(RateLimitPolicies.Ceiling, "198.51.100.1")];
(string, string)[] token = [(RateLimitPolicies.Token, "client:198.51.100.1"), (RateLimitPolicies.TokenIp, "198.51.100.1")];
(string, string)[] attempt = [(RateLimitPolicies.Login, "198.51.100.1"), (RateLimitPolicies.LoginAccount, "acct"), (RateLimitPolicies.LoginAccount, "acct:device")];
(string, string)[] record = [(RateLimitPolicies.LoginAccount, "acct:failures")];

await MeasureAsync("ceiling", _ => store.HitAsync(ceiling, CancellationToken.None), seconds / 2.0); // warm-up
Report(await MeasureAsync("ceiling", _ => store.HitAsync(ceiling, CancellationToken.None), seconds));
Report(await MeasureAsync("token", _ => store.HitAsync(token, CancellationToken.None), seconds));
Report(await MeasureAsync("login", async _ =>
{
    await store.HitAsync(ceiling, CancellationToken.None);
    await store.HitAsync(attempt, CancellationToken.None);
    return await store.HitAsync(record, CancellationToken.None);
}, seconds));
return 0;

async Task<(string Path, long Calls, double Wall, double Cpu)> MeasureAsync(string path, Func<long, ValueTask<RateLimitCounter[]>> call, double duration)
{
    var cpuBefore = CpuSeconds();
    var wall = Stopwatch.StartNew();
    long calls = 0;
    while (wall.Elapsed.TotalSeconds < duration)
    {
        for (var i = 0; i < 200; i++, calls++)
        {
            _ = await call(calls);
        }
    }
    return (path, calls, wall.Elapsed.TotalSeconds, CpuSeconds() - cpuBefore);
}

void Report((string Path, long Calls, double Wall, double Cpu) r) => Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
{
    path = r.Path,
    calls = r.Calls,
    wallUsPerCall = Math.Round(r.Wall * 1e6 / r.Calls, 1),
    cpuUsPerCall = Math.Round(r.Cpu * 1e6 / r.Calls, 1),
    callsPerCpuSecond = Math.Round(r.Calls / r.Cpu),
}));

double CpuSeconds() => ProcessCpu.Seconds(Environment.ProcessId) + (redisPid > 0 ? ProcessCpu.Seconds(redisPid) : 0);

int Option(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
}
