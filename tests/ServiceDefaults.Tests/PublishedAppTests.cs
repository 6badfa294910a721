using System.Diagnostics;
using System.Net;
using SecurePlatform.TestSupport;

namespace SecurePlatform.ServiceDefaults.Tests;

/// <summary>
/// What a container gives a service, short of the image (this machine cannot pull base images): the
/// published app, run from its publish folder by an unprivileged user, with that folder read-only.
/// </summary>
public sealed class PublishedAppTests : IDisposable
{
    private const int Nobody = 65534;
    private readonly string _publish = Directory.CreateTempSubdirectory("sp-publish-").FullName;

    [Fact]
    public async Task A_published_service_runs_as_a_non_root_user_from_a_read_only_folder_and_writes_nothing_there()
    {
        var project = Path.Combine(TestEnvironment.RepoRoot, "services", "Profile", "Profile.Api.csproj");
        var (code, output) = await RunAsync("dotnet", ["publish", project, "-c", "Release", "--no-build", "-o", _publish, "-v", "quiet", "-nologo"]);
        Assert.True(code == 0, "dotnet publish failed:\n" + output);
        Assert.All(Directory.EnumerateFiles(_publish, "appsettings*.json"), settings =>
            Assert.DoesNotContain("Password=", File.ReadAllText(settings), StringComparison.OrdinalIgnoreCase)); // nothing secret baked in
        Assert.Equal(0, (await RunAsync("chmod", ["-R", "a-w,a+rX", _publish])).Code);
        var before = Snapshot();

        var port = ServiceProcess.FreePort();
        var start = new ProcessStartInfo("setpriv", ["--reuid", $"{Nobody}", "--regid", $"{Nobody}", "--clear-groups", "dotnet", Path.Combine(_publish, "Profile.Api.dll")])
        {
            WorkingDirectory = _publish,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["HOME"] = "/nonexistent";
        start.Environment["DOTNET_CLI_HOME"] = "/tmp";
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        start.Environment["ConnectionStrings__profiledb"] = TestEnvironment.UniqueDatabase("profiledb", "published");
        start.Environment["ConnectionStrings__redis"] = TestEnvironment.ConnectionString("redis");
        start.Environment["ConnectionStrings__rabbitmq"] = TestEnvironment.ConnectionString("rabbitmq");
        start.Environment["Auth__Authority"] = "https://token-service.test/";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        using var process = Process.Start(start)!;
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
            await Eventually.HoldsAsync(async () =>
            {
                Assert.False(process.HasExited, "the service exited:\n" + string.Join('\n', log));
                try
                {
                    return (await http.GetAsync("/health")).StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, Platform.StartupTimeout, "the published service is healthy (database, Redis, RabbitMQ) as nobody");

            Assert.Equal(Nobody.ToString(System.Globalization.CultureInfo.InvariantCulture),
                (await File.ReadAllLinesAsync($"/proc/{process.Id}/status")).Single(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t')[1]);
            Assert.Equal(before, Snapshot());
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private List<string> Snapshot() => [.. Directory.EnumerateFileSystemEntries(_publish, "*", SearchOption.AllDirectories)
        .Select(p => $"{p}:{(File.Exists(p) ? new FileInfo(p).Length : 0)}:{File.GetLastWriteTimeUtc(p).Ticks}").Order(StringComparer.Ordinal)];

    private static async Task<(int Code, string Output)> RunAsync(string file, string[] arguments)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    public void Dispose()
    {
        _ = RunAsync("chmod", ["-R", "u+w", _publish]).GetAwaiter().GetResult();
        Directory.Delete(_publish, recursive: true);
    }
}
