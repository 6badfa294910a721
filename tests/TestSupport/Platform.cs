namespace SecurePlatform.TestSupport;

/// <summary>
/// The four services as real processes on loopback, configured as ./run.sh and the AppHost configure them,
/// with databases of their own for this test run.
/// </summary>
public sealed class Platform : IAsyncDisposable
{
    /// <summary>
    /// How long four services may take to come up: JIT, migrations and key generation on 2 cores that other
    /// work shares (under a load average of 20-30, start-up exceeded 60 s).
    /// </summary>
    public static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(150);

    public static readonly string[] Services = ["Auth.Api", "Token.Api", "Audit.Api", "Profile.Api"];

    private readonly Dictionary<string, ServiceProcess> _processes;
    private readonly Dictionary<string, (Dictionary<string, string> Environment, int Port)> _launch;

    private Platform(Dictionary<string, ServiceProcess> processes, Dictionary<string, (Dictionary<string, string>, int)> launch)
    {
        _processes = processes;
        _launch = launch;
    }

    public IReadOnlyDictionary<string, ServiceProcess> Processes => _processes;

    /// <summary>Stops one service (kills the process), as a crash or a deployment would.</summary>
    public async Task StopAsync(string project) => await _processes[project].DisposeAsync();

    /// <summary>Starts a stopped service again, same port, same configuration and database.</summary>
    public async Task StartAgainAsync(string project)
    {
        var (environment, port) = _launch[project];
        _processes[project] = ServiceProcess.Start(project, environment, port);
        await _processes[project].WaitUntilAliveAsync(StartupTimeout);
    }

    public ServiceProcess Auth => Processes["Auth.Api"];

    public ServiceProcess Token => Processes["Token.Api"];

    public ServiceProcess Audit => Processes["Audit.Api"];

    public ServiceProcess Profile => Processes["Profile.Api"];

    public static string AuthClientSecret { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));

    public const string AdminEmail = "admin@e2e.secureplatform.test";

    public static string AdminPassword { get; } = "Adm1n-" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));

    public static string ClientSecretHashKey { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));

    /// <summary>The environment of one service: connection strings, service discovery and platform secrets.</summary>
    public static Dictionary<string, string> EnvironmentFor(
        string project, IReadOnlyDictionary<string, string> infra, string databaseSuffix, IReadOnlyDictionary<string, int> ports,
        IReadOnlyDictionary<string, string>? extra = null)
    {
        var db = project.Split('.')[0].ToLowerInvariant() + "db";
        var env = new Dictionary<string, string>
        {
            [$"ConnectionStrings__{db}"] = TestEnvironment.UniqueDatabase(db, databaseSuffix, infra),
            ["ConnectionStrings__redis"] = infra["redis"],
            ["ConnectionStrings__rabbitmq"] = infra["rabbitmq"],
            ["TokenService__ClientSecret"] = AuthClientSecret,
            ["Clients__auth-service__Secret"] = AuthClientSecret,
            ["Token__ClientSecretHashKey"] = ClientSecretHashKey,
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (service, port) in ports)
        {
            env[$"services__{service.Split('.')[0].ToLowerInvariant()}-service__http__0"] = $"http://127.0.0.1:{port}";
        }
        if (project == "Token.Api")
        {
            env["Token__Issuer"] = $"http://127.0.0.1:{ports[project]}/";
        }
        // This platform's own, generous budgets: the journeys are not about limits, and other runs share the Redis.
        foreach (var (key, value) in TestEnvironment.AsEnvironment(TestEnvironment.GenerousRateLimits($"rl:test:{TestEnvironment.RunId}:{databaseSuffix}:")))
        {
            env[key] = value;
        }
        env["Bootstrap__AdminEmail"] = AdminEmail;
        env["Bootstrap__AdminPassword"] = AdminPassword;
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            env[key] = value;
        }
        return env;
    }

    /// <summary>Starts all four services and waits until each answers <c>/alive</c>.</summary>
    public static async Task<Platform> StartAsync(IReadOnlyDictionary<string, string> infra, string databaseSuffix, IReadOnlyDictionary<string, string>? extra = null)
    {
        var ports = Services.ToDictionary(s => s, _ => ServiceProcess.FreePort());
        var launch = Services.ToDictionary(s => s, s => (EnvironmentFor(s, infra, databaseSuffix, ports, extra), ports[s]));
        var processes = Services.ToDictionary(s => s, s => ServiceProcess.Start(s, launch[s].Item1, launch[s].Item2));
        var platform = new Platform(processes, launch);
        try
        {
            await Task.WhenAll(processes.Values.Select(p => p.WaitUntilAliveAsync(StartupTimeout)));
        }
        catch
        {
            await platform.DisposeAsync();
            throw;
        }
        return platform;
    }

    public async ValueTask DisposeAsync()
    {
        // What each service printed (Warning and up), for a failed run to be read afterwards.
        var logs = Path.Combine(TestEnvironment.RepoRoot, ".local", "service-logs");
        Directory.CreateDirectory(logs);
        foreach (var process in Processes.Values)
        {
            var exited = process.HasExited ? $"exited with {process.ExitCode}\n" : "";
            await File.WriteAllTextAsync(Path.Combine(logs, $"{TestEnvironment.RunId}-{process.Project}-{process.Id}.log"), exited + process.Output);
            await process.DisposeAsync();
        }
    }
}
