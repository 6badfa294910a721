using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Xunit;

namespace SecurePlatform.TestSupport;

/// <summary>What a fault test measures: how fast a request is answered, readiness, and time to healthy — written to a log the report quotes.</summary>
public static class OutageProbe
{
    private static readonly string LogPath = Path.Combine(TestEnvironment.RepoRoot, ".local", "fault-measurements.log");
    private static readonly Lock Gate = new();

    public static void Record(string fault, string what, string value)
    {
        lock (Gate)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(LogPath)!);
            File.AppendAllText(LogPath, $"{DateTime.UtcNow:O}\t{fault}\t{what}\t{value}\n");
        }
    }

    /// <summary>Sends and times one request.</summary>
    public static async Task<(HttpResponseMessage Response, TimeSpan Elapsed)> TimeAsync(Func<Task<HttpResponseMessage>> send)
    {
        var clock = Stopwatch.StartNew();
        var response = await send();
        return (response, clock.Elapsed);
    }

    /// <summary>The platform's 503: problem+json, a trace id, nothing internal, and Retry-After in whole seconds.</summary>
    public static async Task<JsonElement> IsOutageAsync(HttpResponseMessage response)
    {
        var problem = await HttpAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        AssertRetryAfter(response);
        return problem;
    }

    public static void AssertRetryAfter(HttpResponseMessage response)
    {
        Assert.True(response.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 }, $"no Retry-After on {(int)response.StatusCode}");
    }

    /// <summary>Status of /health and of one named check in it.</summary>
    public static async Task<(HttpStatusCode Status, string Overall, string? Check)> HealthAsync(HttpClient http, ServiceProcess service, string? check = null)
    {
        var response = await http.GetAsync(new Uri(service.BaseAddress, "/health"));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var overall = json.RootElement.GetProperty("status").GetString()!;
        var status = check is null ? null : json.RootElement.GetProperty("checks").EnumerateArray()
            .Where(c => c.GetProperty("name").GetString() == check)
            .Select(c => c.GetProperty("status").GetString())
            .FirstOrDefault();
        return (response.StatusCode, overall, status);
    }

    /// <summary>Waits until every service reports Healthy (200); returns, per service, how long that took.</summary>
    public static async Task<Dictionary<string, TimeSpan>> UntilAllHealthyAsync(Platform platform, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var clock = Stopwatch.StartNew();
        var times = new Dictionary<string, TimeSpan>();
        await Task.WhenAll(platform.Processes.Values.Select(async service =>
        {
            var last = "";
            try
            {
                await Eventually.HoldsAsync(async () =>
                {
                    var (status, overall, _) = await HealthAsync(http, service);
                    last = $"{(int)status} {overall}";
                    return status == HttpStatusCode.OK && overall == "Healthy";
                }, timeout, $"{service.Project} Healthy");
            }
            catch (Xunit.Sdk.XunitException ex)
            {
                throw new Xunit.Sdk.XunitException($"{ex.Message}; last {last}");
            }
            lock (times)
            {
                times[service.Project] = clock.Elapsed;
            }
        }));
        return times;
    }

    public static string Format(IReadOnlyDictionary<string, TimeSpan> times) =>
        string.Join(", ", times.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key} {t.Value.TotalMilliseconds:0} ms"));
}
