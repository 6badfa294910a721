using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SecurePlatform.Bench;

// Load scenarios against a running platform (bench/run.sh starts one). Closed loop: N workers, each sends its
// next request when the previous one answered. Reports throughput per wall second and per CPU-second of the
// processes that serve the scenario (read from /proc/PID/stat), and latency percentiles.
//
//   dotnet LoadGen.dll <scenario> [--seconds 20] [--workers 16] [--cpu-tree 1,2,3 | --cpu-pids 1,2,3] [--auth URL] ...
//
// --cpu-tree counts the given processes and all their descendants, alive or already reaped (a postmaster's PID
// covers its backends): only the servers of this platform. Without it, --cpu-pids plus every process named in
// --cpu-names (default: every postgres and redis-server on the machine, whoever runs them).
//
// --gate DIR lets two load generators started together (ours and a peer, bench/run.sh *-vs-peer) warm up and measure
// over the same seconds although their preparation takes different times: each writes DIR/<pid>.ready when prepared
// and starts warming up when DIR/go exists.
var options = Options.Parse(args);
var scenario = Scenarios.Create(options);
Console.Error.WriteLine($"[bench] {options.Scenario}: preparing ({options.Workers} workers)...");
await scenario.PrepareAsync();
if (options.Gate is { } gate)
{
    await File.WriteAllTextAsync(Path.Combine(gate, $"{Environment.ProcessId}.ready"), "");
    Console.Error.WriteLine($"[bench] {options.Scenario}: prepared, waiting for {gate}/go...");
    while (!File.Exists(Path.Combine(gate, "go")))
    {
        await Task.Delay(50);
    }
}

Console.Error.WriteLine($"[bench] {options.Scenario}: warming up {options.WarmupSeconds} s...");
await RunAsync(scenario, options.Workers, TimeSpan.FromSeconds(options.WarmupSeconds), record: null);

var latencies = new List<double>[options.Workers];
for (var i = 0; i < latencies.Length; i++)
{
    latencies[i] = new List<double>(100_000);
}
var cpuBefore = Cpu.Read(options);
var wall = Stopwatch.StartNew();
Console.Error.WriteLine($"[bench] {options.Scenario}: measuring {options.Seconds} s...");
var (ok, failed) = await RunAsync(scenario, options.Workers, TimeSpan.FromSeconds(options.Seconds), latencies);
wall.Stop();
var cpuAfter = Cpu.Read(options);
var cpuSeconds = cpuAfter.Total - cpuBefore.Total;

var all = latencies.SelectMany(l => l).Order().ToArray();
double Percentile(double p) => all.Length == 0 ? -1 : all[Math.Min(all.Length - 1, (int)(p * all.Length))];
var result = new
{
    scenario = options.Scenario,
    workers = options.Workers,
    seconds = Math.Round(wall.Elapsed.TotalSeconds, 1),
    ok,
    failed,
    perWallSecond = Math.Round(ok / wall.Elapsed.TotalSeconds, 1),
    cpuSeconds = Math.Round(cpuSeconds, 2),
    perCpuSecond = cpuSeconds > 0 ? Math.Round(ok / cpuSeconds, 1) : -1,
    p50Ms = Math.Round(Percentile(0.50), 2),
    p99Ms = Math.Round(Percentile(0.99), 2),
    // CPU-seconds per counted process tree ("pid/name"), when --cpu-tree is given: where the CPU of the scenario went.
    cpuByTree = cpuAfter.ByRoot.ToDictionary(
        root => root.Key,
        root => Math.Round(root.Value - cpuBefore.ByRoot.GetValueOrDefault(root.Key), 2)),
};
Console.WriteLine(JsonSerializer.Serialize(result));
return failed > ok / 100 ? 1 : 0; // more than 1 % errors: the numbers are not worth reporting

static async Task<(long Ok, long Failed)> RunAsync(IScenario scenario, int workers, TimeSpan duration, List<double>[]? record)
{
    long ok = 0, failed = 0;
    var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
    await Task.WhenAll(Enumerable.Range(0, workers).Select(worker => Task.Run(async () =>
    {
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var started = Stopwatch.GetTimestamp();
            var success = await scenario.SendAsync(worker);
            var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (success)
            {
                Interlocked.Increment(ref ok);
                record?[worker].Add(ms);
            }
            else
            {
                Interlocked.Increment(ref failed);
            }
        }
    })));
    return (ok, failed);
}

namespace SecurePlatform.Bench
{
    public sealed class Options
    {
        public string Scenario { get; private set; } = "";
        public int Seconds { get; private set; } = 20;
        public int WarmupSeconds { get; private set; } = 5;
        public int Workers { get; private set; } = 16;
        public int[] CpuPids { get; private set; } = [];
        public int[] CpuTrees { get; private set; } = [];
        public string[] CpuProcessNames { get; private set; } = ["postgres", "redis-server"];
        public string Auth { get; private set; } = "http://127.0.0.1:5101";
        public string Token { get; private set; } = "http://127.0.0.1:5102";
        public string Profile { get; private set; } = "http://127.0.0.1:5104";

        /// <summary>The token endpoint's path under <see cref="Token"/> (oidc-provider's is /token).</summary>
        public string TokenPath { get; private set; } = "/connect/token";

        /// <summary>refresh: take each worker's first refresh token from this URL (the peer's minting route) instead of signing users in.</summary>
        public string? RefreshTokensFrom { get; private set; }

        public string? Gate { get; private set; }
        public string ClientId { get; private set; } = "bench";
        public int? MfaUsers { get; private set; }
        public string ClientSecret { get; private set; } = Environment.GetEnvironmentVariable("BENCH_CLIENT_SECRET") ?? "";

        public static Options Parse(string[] args)
        {
            var o = new Options { Scenario = args.FirstOrDefault() ?? throw new ArgumentException("scenario: login | login-mfa | refresh | profile | client-credentials | code-exchange") };
            for (var i = 1; i + 1 < args.Length; i += 2)
            {
                var value = args[i + 1];
                switch (args[i])
                {
                    case "--seconds": o.Seconds = int.Parse(value); break;
                    case "--warmup": o.WarmupSeconds = int.Parse(value); break;
                    case "--workers": o.Workers = int.Parse(value); break;
                    case "--cpu-pids": o.CpuPids = [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse)]; break;
                    case "--cpu-tree": o.CpuTrees = [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse)]; break;
                    case "--cpu-names": o.CpuProcessNames = value.Split(',', StringSplitOptions.RemoveEmptyEntries); break;
                    case "--auth": o.Auth = value; break;
                    case "--token": o.Token = value; break;
                    case "--profile": o.Profile = value; break;
                    case "--token-path": o.TokenPath = value; break;
                    case "--refresh-tokens-from": o.RefreshTokensFrom = value; break;
                    case "--gate": o.Gate = value; break;
                    case "--client-id": o.ClientId = value; break;
                    case "--mfa-users": o.MfaUsers = int.Parse(value); break;
                    default: throw new ArgumentException("unknown option " + args[i]);
                }
            }
            if (o.CpuTrees.Length > 0 && (o.CpuPids.Length > 0 || args.Contains("--cpu-names")))
            {
                throw new ArgumentException("--cpu-tree counts exactly the given process trees; it does not combine with --cpu-pids or --cpu-names");
            }
            return o;
        }
    }

    /// <summary>CPU-seconds counted for a scenario: the total, and per process tree (key "pid/name") in tree mode.</summary>
    public sealed record CpuReading(double Total, IReadOnlyDictionary<string, double> ByRoot);

    /// <summary>CPU time (user + system) from <c>/proc</c>.</summary>
    public static class Cpu
    {
        public static CpuReading Read(Options options)
        {
            var all = ProcessCpu.Snapshot();
            if (options.CpuTrees.Length > 0)
            {
                var byRoot = ProcessCpu.TreeTicks(all, options.CpuTrees).ToDictionary(r => r.Key, r => r.Value / ProcessCpu.TicksPerSecond);
                return new CpuReading(byRoot.Values.Sum(), byRoot);
            }
            var ids = new HashSet<int>(options.CpuPids);
            ids.UnionWith(all.Values.Where(p => options.CpuProcessNames.Contains(p.Name)).Select(p => p.Pid));
            return new CpuReading(ids.Sum(id => all.TryGetValue(id, out var p) ? p.OwnTicks : 0) / ProcessCpu.TicksPerSecond, new Dictionary<string, double>());
        }
    }

    public interface IScenario
    {
        Task PrepareAsync();

        Task<bool> SendAsync(int worker);
    }

    public static class Scenarios
    {
        public static IScenario Create(Options o) => o.Scenario switch
        {
            "login" => new Login(o),
            "login-mfa" => new LoginWithTotp(o),
            "refresh" => new Refresh(o),
            "profile" => new ProfileRead(o),
            "client-credentials" => new ClientCredentials(o),
            "code-exchange" => new CodeExchange(o),
            _ => throw new ArgumentException("unknown scenario " + o.Scenario),
        };

        internal static readonly HttpClient Http = new(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };

        internal static async Task<(string Email, string Password)[]> RegisterAsync(Options o, int count)
        {
            var users = Enumerable.Range(0, count).Select(i => ($"bench-{Guid.NewGuid():N}@bench.test", "Quiet-Meadow-River-" + Guid.NewGuid().ToString("N")[..8])).ToArray();
            foreach (var (email, password) in users)
            {
                var response = await Http.PostAsJsonAsync(o.Auth + "/auth/register", new { email, password });
                response.EnsureSuccessStatusCode();
            }
            return users;
        }

        internal static async Task<JsonElement> LoginAsync(Options o, string email, string password)
        {
            var response = await Http.PostAsJsonAsync(o.Auth + "/auth/login", new { email, password });
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<JsonElement>();
        }
    }

    /// <summary>Full password logins: Argon2id verify in auth-service, session + tokens from token-service.</summary>
    internal sealed class Login(Options o) : IScenario
    {
        private (string Email, string Password)[] _users = [];

        public async Task PrepareAsync() => _users = await Scenarios.RegisterAsync(o, o.Workers);

        public async Task<bool> SendAsync(int worker)
        {
            var (email, password) = _users[worker];
            using var response = await Scenarios.Http.PostAsJsonAsync(o.Auth + "/auth/login", new { email, password });
            return response.StatusCode == HttpStatusCode.OK;
        }
    }

    /// <summary>
    /// Logins with TOTP, both steps: the password (Argon2id verify, answered with a ticket) and the code (ticket spent, code
    /// checked and recorded as used, session + tokens). A code is accepted once per 30-second step and user, as for a real
    /// user, so each worker takes the least recently used of many enrolled users (--mfa-users, default 300 per worker) and
    /// waits for the next step when every user has signed in during this one.
    /// </summary>
    internal sealed class LoginWithTotp(Options o) : IScenario
    {
        private sealed record EnrolledUser(string Email, string Password, byte[] Secret)
        {
            public long LastStep { get; set; }
        }

        private readonly System.Collections.Concurrent.ConcurrentQueue<EnrolledUser> _users = new();
        private int _waited;

        private static long StepNow() => DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 30;

        private static string Code(byte[] secret, long step) =>
            new OtpNet.Totp(secret).ComputeTotp(DateTimeOffset.FromUnixTimeSeconds(step * 30 + 15).UtcDateTime);

        public async Task PrepareAsync()
        {
            var count = o.MfaUsers ?? o.Workers * 300;
            var registered = await Scenarios.RegisterAsync(o, count);
            using var gate = new SemaphoreSlim(o.Workers);
            var enrolled = await Task.WhenAll(registered.Select(async u =>
            {
                await gate.WaitAsync();
                try
                {
                    var token = (await Scenarios.LoginAsync(o, u.Email, u.Password)).GetProperty("access_token").GetString()!;
                    using var begin = new HttpRequestMessage(HttpMethod.Post, o.Auth + "/auth/mfa/totp") { Headers = { Authorization = new("Bearer", token) } };
                    using var begun = await Scenarios.Http.SendAsync(begin);
                    begun.EnsureSuccessStatusCode();
                    var secret = OtpNet.Base32Encoding.ToBytes((await begun.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString()!);
                    var step = StepNow();
                    using var confirm = new HttpRequestMessage(HttpMethod.Post, o.Auth + "/auth/mfa/totp/confirm")
                    {
                        Headers = { Authorization = new("Bearer", token) },
                        Content = JsonContent.Create(new { code = Code(secret, step) }),
                    };
                    using var confirmed = await Scenarios.Http.SendAsync(confirm);
                    confirmed.EnsureSuccessStatusCode();
                    return new EnrolledUser(u.Email, u.Password, secret) { LastStep = step };
                }
                finally
                {
                    gate.Release();
                }
            }));
            foreach (var user in enrolled)
            {
                _users.Enqueue(user);
            }
        }

        public async Task<bool> SendAsync(int worker)
        {
            EnrolledUser? user;
            while (!_users.TryDequeue(out user))
            {
                await Task.Delay(10);
            }
            try
            {
                var step = StepNow();
                if (user.LastStep >= step)
                {
                    // the least recently used user signed in during this step already: so did every other one
                    if (Interlocked.Exchange(ref _waited, 1) == 0)
                    {
                        Console.Error.WriteLine($"[bench] login-mfa: all {_users.Count + 1} users signed in during this 30-s step; waiting for the next (more with --mfa-users)");
                    }
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(0, (step + 1) * 30_000 - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 50)));
                    step = StepNow();
                }
                using var password = await Scenarios.Http.PostAsJsonAsync(o.Auth + "/auth/login", new { email = user.Email, password = user.Password });
                if (password.StatusCode != HttpStatusCode.OK)
                {
                    return false;
                }
                var challenge = await password.Content.ReadFromJsonAsync<JsonElement>();
                if (!challenge.TryGetProperty("mfaTicket", out var ticket))
                {
                    return false;
                }
                user.LastStep = step;
                using var second = await Scenarios.Http.PostAsJsonAsync(o.Auth + "/auth/login/mfa", new { ticket = ticket.GetString(), code = Code(user.Secret, step) });
                return second.StatusCode == HttpStatusCode.OK;
            }
            finally
            {
                _users.Enqueue(user);
            }
        }
    }

    /// <summary>Rotating refreshes: each worker follows its own session's refresh-token chain.</summary>
    internal sealed class Refresh(Options o) : IScenario
    {
        private string[] _refreshTokens = [];

        public async Task PrepareAsync()
        {
            if (o.RefreshTokensFrom is { } source)
            {
                using var minted = await Scenarios.Http.PostAsync($"{source}?count={o.Workers}", null);
                minted.EnsureSuccessStatusCode();
                _refreshTokens = (await minted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("refresh_tokens").EnumerateArray().Select(t => t.GetString()!).ToArray();
                return;
            }
            var users = await Scenarios.RegisterAsync(o, o.Workers);
            _refreshTokens = await Task.WhenAll(users.Select(async u => (await Scenarios.LoginAsync(o, u.Email, u.Password)).GetProperty("refresh_token").GetString()!));
        }

        public async Task<bool> SendAsync(int worker)
        {
            using var response = await Scenarios.Http.PostAsync(o.Token + o.TokenPath, new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token", ["client_id"] = "platform-app", ["refresh_token"] = _refreshTokens[worker],
            }));
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }
            _refreshTokens[worker] = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("refresh_token").GetString()!;
            return true;
        }
    }

    /// <summary>An authenticated read: JWT validation + revocation check + one PostgreSQL lookup.</summary>
    internal sealed class ProfileRead(Options o) : IScenario
    {
        private string[] _accessTokens = [];

        public async Task PrepareAsync()
        {
            var users = await Scenarios.RegisterAsync(o, o.Workers);
            _accessTokens = await Task.WhenAll(users.Select(async u => (await Scenarios.LoginAsync(o, u.Email, u.Password)).GetProperty("access_token").GetString()!));
        }

        public async Task<bool> SendAsync(int worker)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, o.Profile + "/profiles/me");
            request.Headers.Authorization = new("Bearer", _accessTokens[worker]);
            using var response = await Scenarios.Http.SendAsync(request);
            return response.StatusCode == HttpStatusCode.OK;
        }
    }

    /// <summary>Service-to-service tokens: client authentication (keyed hash) + signing; no database write.</summary>
    internal sealed class ClientCredentials(Options o) : IScenario
    {
        public Task PrepareAsync() => Task.CompletedTask;

        public async Task<bool> SendAsync(int worker)
        {
            using var response = await Scenarios.Http.PostAsync(o.Token + o.TokenPath, new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = o.ClientId, ["client_secret"] = o.ClientSecret, ["scope"] = "api",
            }));
            return response.StatusCode == HttpStatusCode.OK;
        }
    }

    /// <summary>
    /// The authorization code flow of a signed-in browser: one authorize request (the sign-in cookie already there,
    /// a first-party app, so straight back with a code) and the code → tokens exchange (PKCE check, session opened,
    /// access, identity and refresh token signed or sealed). One password sign-in per worker, before measuring.
    /// </summary>
    internal sealed partial class CodeExchange(Options o) : IScenario
    {
        private const string ClientId = "bench-app";
        private const string Redirect = "http://127.0.0.1:9/callback";
        private HttpClient[] _browsers = [];

        public async Task PrepareAsync()
        {
            var users = await Scenarios.RegisterAsync(o, o.Workers);
            _browsers = await Task.WhenAll(users.Select(async u =>
            {
                var browser = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, CookieContainer = new System.Net.CookieContainer() }) { BaseAddress = new Uri(o.Token) };
                var (_, challenge) = Pkce();
                var toLogin = await browser.GetAsync(AuthorizeUrl(challenge));
                var page = await browser.GetStringAsync(toLogin.Headers.Location);
                var signedIn = await browser.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["__RequestVerificationToken"] = Antiforgery().Match(page).Groups[1].Value,
                    ["returnUrl"] = System.Net.WebUtility.HtmlDecode(ReturnUrl().Match(page).Groups[1].Value),
                    ["login_hint"] = u.Email,
                    ["password"] = u.Password,
                }));
                if (signedIn.StatusCode != HttpStatusCode.Redirect)
                {
                    throw new InvalidOperationException($"hosted sign-in failed: {(int)signedIn.StatusCode}");
                }
                return browser;
            }));
        }

        public async Task<bool> SendAsync(int worker)
        {
            var (verifier, challenge) = Pkce();
            using var authorize = await _browsers[worker].GetAsync(AuthorizeUrl(challenge));
            var location = authorize.Headers.Location?.ToString() ?? "";
            var code = System.Web.HttpUtility.ParseQueryString(location.Contains('?') ? location[location.IndexOf('?')..] : "")["code"];
            if (code is null)
            {
                return false;
            }
            using var response = await Scenarios.Http.PostAsync(o.Token + o.TokenPath, new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code", ["client_id"] = ClientId, ["code"] = code, ["redirect_uri"] = Redirect, ["code_verifier"] = verifier,
            }));
            return response.StatusCode == HttpStatusCode.OK;
        }

        private static string AuthorizeUrl(string challenge) =>
            $"/connect/authorize?client_id={ClientId}&redirect_uri={Uri.EscapeDataString(Redirect)}&response_type=code&scope=openid%20offline_access%20api" +
            $"&code_challenge={challenge}&code_challenge_method=S256&state=s&nonce=n";

        private static (string Verifier, string Challenge) Pkce()
        {
            var verifier = Base64Url(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            return (verifier, Base64Url(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier))));
        }

        private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        [System.Text.RegularExpressions.GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
        private static partial System.Text.RegularExpressions.Regex Antiforgery();

        [System.Text.RegularExpressions.GeneratedRegex("name=\"returnUrl\" value=\"([^\"]*)\"")]
        private static partial System.Text.RegularExpressions.Regex ReturnUrl();
    }
}
