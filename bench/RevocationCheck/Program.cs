using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SecurePlatform.Bench;
using SecurePlatform.ServiceDefaults.Auth;
using StackExchange.Redis;

// What the revocation check costs per request, isolated from the HTTP pipeline around it: the production
// RevocationCache against the real local Redis. Two paths:
//   seen:  a session already checked clean (every request after a session's first): a dictionary lookup;
//   new:   a session never seen (its first request on this replica): one Redis MGET of the sid and sub keys.
// Reports wall time per check and CPU per check (this process + redis-server, from /proc), single caller.
//
//   dotnet RevocationCheck.dll "<redis connection string>" [--seconds 5] [--redis-pid PID]
var connection = args.FirstOrDefault() ?? throw new ArgumentException("usage: RevocationCheck <redis connection string> [--seconds 5] [--redis-pid PID]");
var seconds = Option("--seconds", 5);
var redisPid = Option("--redis-pid", 0);

using var redis = await ConnectionMultiplexer.ConnectAsync(connection);
var cache = new RevocationCache(redis, Options.Create(new RevocationOptions { RequireCompleteMarker = false }), NullLogger<RevocationCache>.Instance);
await cache.StartAsync(CancellationToken.None);

var seen = Guid.CreateVersion7().ToString();
if (await cache.IsRevokedAsync(seen, "bench-user", CancellationToken.None))
{
    throw new InvalidOperationException("a fresh session must not be revoked");
}

await MeasureAsync("seen", _ => cache.IsRevokedAsync(seen, "bench-user", CancellationToken.None), seconds / 2.0); // warm-up
Report(await MeasureAsync("seen", _ => cache.IsRevokedAsync(seen, "bench-user", CancellationToken.None), seconds));
Report(await MeasureAsync("new", i => cache.IsRevokedAsync(Guid.CreateVersion7().ToString(), "bench-user-" + (i % 1000), CancellationToken.None), seconds));
return 0;

async Task<(string Path, long Checks, double Wall, double Cpu)> MeasureAsync(string path, Func<long, ValueTask<bool>> check, double duration)
{
    var cpuBefore = CpuSeconds();
    var wall = Stopwatch.StartNew();
    long checks = 0;
    while (wall.Elapsed.TotalSeconds < duration)
    {
        for (var i = 0; i < 1000; i++, checks++)
        {
            if (await check(checks))
            {
                throw new InvalidOperationException("no session here is revoked");
            }
        }
    }
    return (path, checks, wall.Elapsed.TotalSeconds, CpuSeconds() - cpuBefore);
}

void Report((string Path, long Checks, double Wall, double Cpu) r) => Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
{
    path = r.Path,
    checks = r.Checks,
    wallNsPerCheck = Math.Round(r.Wall * 1e9 / r.Checks, 1),
    cpuNsPerCheck = Math.Round(r.Cpu * 1e9 / r.Checks, 1),
}));

double CpuSeconds() => ProcessCpu.Seconds(Environment.ProcessId) + (redisPid > 0 ? ProcessCpu.Seconds(redisPid) : 0);

int Option(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
}
