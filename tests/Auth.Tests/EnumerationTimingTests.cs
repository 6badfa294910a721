using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Xunit.Abstractions;

namespace SecurePlatform.Auth.Tests;

/// <summary>
/// Neither sign-in nor registration may tell whether an account exists by time.
/// Sign-in must not tell an unknown address, a wrong password and a disabled account apart by time
/// (security-reference §3.5): each failure does one Argon2id verification (a dummy hash when there is no
/// usable account), one look-up and one outbox row. Method: warm-up, then 21 samples per class in
/// blocks (every block holds one request of each class in a seeded random order, so a burst of load from
/// other work on the machine hits all classes alike), sequential, a different account per sample, timed client-side
/// around the whole request. Pass: every pair of failure medians within max(15 ms, 10 % of the larger
/// median). The Mann–Whitney p-values and the success median are reported, not asserted. On a shared
/// 2-core machine one failed round is measured again once before the test fails.
/// Registration of an existing address (decoy 201, no insert) against a new one (insert in a transaction):
/// the same method and bound.
/// </summary>
public class EnumerationTimingTests(AuthApp app, ITestOutputHelper output) : IClassFixture<AuthApp>
{
    private const int Samples = 21;
    private const string Password = "zebra glacier 47 lantern";
    private static readonly string[] Classes = ["unknown", "wrong", "disabled", "success"];

    [Fact]
    public async Task Unknown_email_wrong_password_and_disabled_account_take_the_same_time()
    {
        var known = new List<string>();
        var disabled = new List<string>();
        for (var i = 0; i < Samples; i++)
        {
            known.Add(await RegisterAsync());
            disabled.Add(await RegisterAsync());
        }
        await app.WithDbAsync(db => db.Users.Where(u => disabled.Contains(u.Email!)).ExecuteUpdateAsync(u => u.SetProperty(x => x.DisabledAt, DateTimeOffset.UtcNow)));

        for (var i = 0; i < 10; i++) // warm-up: JIT, connection pools, the dummy hash
        {
            await TimeAsync(Classes[i % Classes.Length], i % Samples, known, disabled);
        }

        var (medians, passed, report) = await MeasureAsync(known, disabled, seed: 11);
        output.WriteLine(report);
        if (!passed)
        {
            (medians, passed, report) = await MeasureAsync(known, disabled, seed: 12);
            output.WriteLine("second round: " + report);
        }
        Assert.True(passed, report);
        Assert.True(medians["success"] > 0);
    }

    [Fact]
    public async Task Registering_an_existing_address_takes_the_same_time_as_a_new_one()
    {
        var existing = new List<string>();
        for (var i = 0; i < Samples; i++)
        {
            existing.Add(await RegisterAsync());
        }
        for (var i = 0; i < 4; i++) // warm-up
        {
            await TimeRegistrationAsync(i % 2 == 0 ? AuthApp.NewEmail() : existing[i]);
        }

        var report = "";
        var passed = false;
        for (var round = 0; round < 2 && !passed; round++)
        {
            var random = new Random(21 + round);
            var order = Enumerable.Range(0, Samples).SelectMany(i => new[] { (New: true, Index: i), (New: false, Index: i) }.OrderBy(_ => random.Next())).ToList();
            var fresh = new List<double>();
            var taken = new List<double>();
            foreach (var (isNew, index) in order)
            {
                (isNew ? fresh : taken).Add(await TimeRegistrationAsync(isNew ? AuthApp.NewEmail() : existing[index]));
            }
            var difference = Math.Abs(Median(fresh) - Median(taken));
            var bound = Math.Max(15, 0.10 * Math.Max(Median(fresh), Median(taken)));
            passed = difference <= bound;
            report += $"{(round > 0 ? "second round: " : "")}register medians (ms, n={Samples} each): new {Median(fresh):F1} [p10 {Percentile(fresh, 0.1):F1}, p90 {Percentile(fresh, 0.9):F1}], " +
                      $"existing {Median(taken):F1} [p10 {Percentile(taken, 0.1):F1}, p90 {Percentile(taken, 0.9):F1}]; |difference| = {difference:F1} ms (bound {bound:F1} ms), Mann-Whitney p = {MannWhitneyP(fresh, taken):F3}. ";
        }
        output.WriteLine(report);
        Assert.True(passed, report);
    }

    private async Task<double> TimeRegistrationAsync(string email)
    {
        var watch = Stopwatch.StartNew();
        var response = await app.Client.PostAsJsonAsync("/auth/register", new { email, password = Password });
        await response.Content.ReadAsByteArrayAsync();
        var elapsed = watch.Elapsed.TotalMilliseconds;
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return elapsed;
    }

    private async Task<(Dictionary<string, double> Medians, bool Passed, string Report)> MeasureAsync(List<string> known, List<string> disabled, int seed)
    {
        var random = new Random(seed);
        var order = Enumerable.Range(0, Samples).SelectMany(i => Classes.Select(c => (Class: c, Index: i)).OrderBy(_ => random.Next())).ToList();
        var samples = Classes.ToDictionary(c => c, _ => new List<double>());
        foreach (var (kind, index) in order)
        {
            samples[kind].Add(await TimeAsync(kind, index, known, disabled));
        }
        var medians = samples.ToDictionary(s => s.Key, s => Median(s.Value));
        var passed = true;
        var lines = new List<string>
        {
            $"medians (ms, n={Samples} each): " + string.Join(", ", Classes.Select(c => $"{c} {medians[c]:F1} [p10 {Percentile(samples[c], 0.1):F1}, p90 {Percentile(samples[c], 0.9):F1}]")),
        };
        foreach (var (a, b) in new[] { ("unknown", "wrong"), ("disabled", "wrong"), ("unknown", "disabled") })
        {
            var difference = Math.Abs(medians[a] - medians[b]);
            var bound = Math.Max(15, 0.10 * Math.Max(medians[a], medians[b]));
            passed &= difference <= bound;
            lines.Add($"|{a} - {b}| = {difference:F1} ms (bound {bound:F1} ms), Mann-Whitney p = {MannWhitneyP(samples[a], samples[b]):F3}");
        }
        return (medians, passed, string.Join("; ", lines));
    }

    private async Task<double> TimeAsync(string kind, int index, List<string> known, List<string> disabled)
    {
        var (email, password, expected) = kind switch
        {
            "unknown" => (AuthApp.NewEmail(), Password, HttpStatusCode.Unauthorized),
            "wrong" => (known[index], Password + "?", HttpStatusCode.Unauthorized),
            "disabled" => (disabled[index], Password, HttpStatusCode.Unauthorized),
            _ => (known[index], Password, HttpStatusCode.OK),
        };
        var watch = Stopwatch.StartNew();
        var response = await app.Client.PostAsJsonAsync("/auth/login", new { email, password });
        await response.Content.ReadAsByteArrayAsync();
        var elapsed = watch.Elapsed.TotalMilliseconds;
        Assert.Equal(expected, response.StatusCode);
        return elapsed;
    }

    private async Task<string> RegisterAsync()
    {
        var email = AuthApp.NewEmail();
        await app.RegisterAsync(email, Password);
        return email;
    }

    private static double Median(List<double> values) => Percentile(values, 0.5);

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        var rank = p * (sorted.Count - 1);
        var low = (int)Math.Floor(rank);
        var high = (int)Math.Ceiling(rank);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }

    /// <summary>Two-sided Mann–Whitney U test, normal approximation (fine for n = 21 per group).</summary>
    private static double MannWhitneyP(List<double> a, List<double> b)
    {
        var ranked = a.Select(v => (v, group: 0)).Concat(b.Select(v => (v, group: 1))).OrderBy(x => x.v).ToList();
        double rankSumA = 0;
        for (var i = 0; i < ranked.Count;)
        {
            var j = i;
            while (j < ranked.Count && ranked[j].v == ranked[i].v)
            {
                j++;
            }
            var averageRank = (i + 1 + j) / 2.0;
            for (var k = i; k < j; k++)
            {
                if (ranked[k].group == 0)
                {
                    rankSumA += averageRank;
                }
            }
            i = j;
        }
        double n1 = a.Count, n2 = b.Count;
        var u = rankSumA - n1 * (n1 + 1) / 2;
        var z = (u - n1 * n2 / 2) / Math.Sqrt(n1 * n2 * (n1 + n2 + 1) / 12);
        return 2 * (1 - NormalCdf(Math.Abs(z)));
    }

    private static double NormalCdf(double x)
    {
        // Abramowitz–Stegun 7.1.26
        var t = 1 / (1 + 0.3275911 * x / Math.Sqrt(2));
        var erf = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.Exp(-x * x / 2);
        return 0.5 * (1 + erf);
    }
}
