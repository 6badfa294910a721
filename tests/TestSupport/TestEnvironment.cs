using System.Diagnostics;
using Npgsql;

namespace SecurePlatform.TestSupport;

/// <summary>
/// Where the real servers are. <c>./test.sh</c> exports the <c>ConnectionStrings__*</c> variables (with a
/// RabbitMQ vhost of its own per run); a plain <c>dotnet test</c> asks <c>eng/infra.sh env</c> instead.
/// </summary>
public static class TestEnvironment
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>Unique per test run: databases are suffixed with it so runs never collide.</summary>
    public static string RunId { get; } = Environment.GetEnvironmentVariable("TEST_RUN_ID")
        ?? $"{DateTime.UtcNow:MMddHHmmss}{Random.Shared.Next(100, 999)}";

    private static readonly Lazy<IReadOnlyDictionary<string, string>> SharedInfra = new(() =>
    {
        var fromEnvironment = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k.StartsWith("ConnectionStrings__", StringComparison.Ordinal))
            .ToDictionary(k => k["ConnectionStrings__".Length..], k => Environment.GetEnvironmentVariable(k)!);
        return fromEnvironment.ContainsKey("redis") ? fromEnvironment : new InfraInstance().Env();
    });

    /// <summary>A connection string of the shared servers, exactly as the AppHost would inject it.</summary>
    /// <summary>A Redis key prefix for rate-limit budgets no other run or instance shares (pass the same one to share).</summary>
    public static string RateLimitKeyPrefix(string scope) => $"rl:test:{RunId}:{scope}:{Guid.NewGuid():N}:";

    /// <summary>
    /// Budgets far above what a test suite sends from 127.0.0.1, for tests that are not about limits (the throttle
    /// tests set small ones). Configuration keys (<c>:</c>); <see cref="AsEnvironment"/> for processes.
    /// </summary>
    public static Dictionary<string, string> GenerousRateLimits(string keyPrefix) => new()
    {
        ["RateLimiting:KeyPrefix"] = keyPrefix,
        ["RateLimiting:Policies:ceiling:PermitLimit"] = "100000",
        ["RateLimiting:Policies:login:PermitLimit"] = "100000",
        ["RateLimiting:Policies:login-account:PermitLimit"] = "100000",
        ["RateLimiting:Policies:register:PermitLimit"] = "100000",
        ["RateLimiting:Policies:password-change:PermitLimit"] = "100000",
        ["RateLimiting:Policies:token:PermitLimit"] = "100000",
        ["RateLimiting:Policies:token-ip:PermitLimit"] = "100000",
        ["Login:Throttle:FreeFailures"] = "100000",
    };

    public static Dictionary<string, string> AsEnvironment(IReadOnlyDictionary<string, string> settings) =>
        settings.ToDictionary(kv => kv.Key.Replace(":", "__", StringComparison.Ordinal), kv => kv.Value);

    public static string ConnectionString(string name) =>
        SharedInfra.Value.TryGetValue(name, out var value) ? value : throw new InvalidOperationException($"no connection string '{name}'; is eng/infra.sh up?");

    /// <summary>The connection string for this run's own copy of a service database (<c>authdb_&lt;run&gt;_&lt;suffix&gt;</c>).</summary>
    public static string UniqueDatabase(string name, string suffix, IReadOnlyDictionary<string, string>? infra = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(infra?[name] ?? ConnectionString(name))
        {
            Database = $"{name}_{RunId}_{suffix}".ToLowerInvariant(),
        };
        return builder.ConnectionString;
    }

    /// <summary>Path of a project's built entry assembly, in the same configuration as the running tests.</summary>
    public static string BuiltAssembly(string project)
    {
        // Tests run from artifacts/bin/<test project>/<configuration>/
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name;
        var path = Path.Combine(RepoRoot, "artifacts", "bin", project, configuration, project + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"{project} is not built ({path}); build the solution first");
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SecurePlatform.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("SecurePlatform.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>
/// Drives <c>eng/infra.sh</c>. The default instance is the shared one; fault tests make their own
/// (own data folder, ports shifted by an offset) so stopping a server there disturbs no other test.
/// </summary>
public sealed class InfraInstance(string? infraDir = null, int portOffset = 0, IReadOnlyDictionary<string, string>? settings = null)
{
    public IReadOnlyDictionary<string, string> Env()
    {
        var output = Run("env");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2))
            .Where(kv => kv.Length == 2 && kv[0].StartsWith("ConnectionStrings__", StringComparison.Ordinal))
            .ToDictionary(kv => kv[0]["ConnectionStrings__".Length..], kv => kv[1]);
    }

    public void Up(params string[] servers) => Run(["up", .. servers]);

    public void Down(params string[] servers) => Run(["down", .. servers]);

    public string Run(params string[] args)
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(TestEnvironment.RepoRoot, "eng", "infra.sh"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (infraDir is not null)
        {
            start.Environment["INFRA_DIR"] = infraDir;
            start.Environment["INFRA_PORT_OFFSET"] = portOffset.ToString(System.Globalization.CultureInfo.InvariantCulture);
            start.Environment["RMQ_MANAGEMENT"] = "0";
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value; // eng/infra.sh's own settings (PG_TLS_DIR, say)
        }
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"eng/infra.sh {string.Join(' ', args)} failed ({process.ExitCode}): {stderr.Result}");
        }
        return stdout;
    }
}
