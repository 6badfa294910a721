using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Identity;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.Model;

// What one Argon2id verification (a sign-in's password check) costs with each of OWASP's equal-strength
// configurations, through the production hasher (libsodium via Geralt), on one thread. The configurations run
// interleaved, round after round, so a busy machine slows them alike; user and system CPU are read apart
// (getrusage of this thread) because libsodium maps, faults in and zeroes the whole memory on every hash.
// Last, for comparison, one TOTP code check as the second step does it in-process (the stored secret unprotected by
// Data Protection, then TotpRules.Verify: the code compared for the current step and ±1); its database update, ticket
// and HTTP request are measured with the whole sign-in by bench/run.sh login-mfa-pair.
//
//   dotnet PasswordHashCost.dll [--rounds 8] [--per-round 10]
var rounds = Option("--rounds", 8);
var perRound = Option("--per-round", 10);

Argon2Parameters[] configurations = [.. Argon2Parameters.OwaspEqualStrength];
var hashers = configurations.Select(p => new Argon2idPasswordHasher(p)).ToArray();
const string Password = "Quiet-Meadow-River-5f3a"; // what LoadGen's sign-ins use
var nobody = new User();
var hashes = hashers.Select(h => h.HashPassword(nobody, Password)).ToArray();
var totals = configurations.Select(_ => new Sample()).ToArray();

var thread = new Thread(() =>
{
    for (var i = 0; i < configurations.Length; i++)
    {
        Verify(i, 2); // warm-up: JIT, the native library, first page faults
    }
    for (var round = 0; round < rounds; round++)
    {
        for (var i = 0; i < configurations.Length; i++)
        {
            totals[i] += Verify(i, perRound);
        }
    }
});
thread.Start();
thread.Join();

var baseline = totals[Array.IndexOf(configurations, Argon2Parameters.Owasp19MiB)];
foreach (var (parameters, total) in configurations.Zip(totals))
{
    var n = (double)rounds * perRound;
    Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
    {
        parameters = parameters.ToString(),
        memoryMiB = parameters.MemoryKiB / 1024.0,
        verifications = (int)n,
        userMs = Math.Round(total.User.TotalMilliseconds / n, 2),
        systemMs = Math.Round(total.System.TotalMilliseconds / n, 2),
        cpuMs = Math.Round(total.Cpu.TotalMilliseconds / n, 2),
        wallMs = Math.Round(total.Wall.TotalMilliseconds / n, 2),
        perCpuSecond = Math.Round(n / total.Cpu.TotalSeconds, 1),
        cpuVsOwasp19MiB = Math.Round(total.Cpu / baseline.Cpu, 3),
    }));
}

// One TOTP check: what SecondFactorCheck computes before its conditional update of the last used step.
var protector = new TotpSecretProtector(new Microsoft.AspNetCore.DataProtection.EphemeralDataProtectionProvider());
var secret = TotpRules.NewSecret();
var protectedSecret = protector.Protect(secret);
var checkedAt = DateTimeOffset.UtcNow;
var code = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(secret)).ComputeTotp(checkedAt.UtcDateTime);
var checks = rounds * perRound * 100;
Sample totp = default;
var totpThread = new Thread(() =>
{
    for (var pass = 0; pass < 2; pass++) // the first pass warms up (JIT, the key ring), the second is measured
    {
        var before = ThreadUsage.Read();
        var wall = Stopwatch.StartNew();
        for (var k = 0; k < checks; k++)
        {
            if (TotpRules.Verify(protector.Unprotect(protectedSecret), code, checkedAt, lastUsedStep: null) is null)
            {
                throw new InvalidOperationException("TOTP check failed");
            }
        }
        wall.Stop();
        var after = ThreadUsage.Read();
        totp = new Sample(after.User - before.User, after.System - before.System, wall.Elapsed);
    }
});
totpThread.Start();
totpThread.Join();
var current = totals[Array.IndexOf(configurations, Argon2Parameters.Default)];
Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
{
    check = "totp: secret unprotected, code verified",
    verifications = checks,
    cpuMicroseconds = Math.Round(totp.Cpu.TotalMicroseconds / checks, 1),
    perCpuSecond = Math.Round(checks / totp.Cpu.TotalSeconds, 0),
    cpuVsDefaultHash = Math.Round(totp.Cpu.TotalMilliseconds / checks / (current.Cpu.TotalMilliseconds / ((double)rounds * perRound)), 5),
}));
return 0;

Sample Verify(int i, int count)
{
    var before = ThreadUsage.Read();
    var wall = Stopwatch.StartNew();
    for (var k = 0; k < count; k++)
    {
        if (hashers[i].VerifyHashedPassword(nobody, hashes[i], Password) != PasswordVerificationResult.Success)
        {
            throw new InvalidOperationException("verification failed");
        }
    }
    wall.Stop();
    var after = ThreadUsage.Read();
    return new Sample(after.User - before.User, after.System - before.System, wall.Elapsed);
}

int Option(string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

internal readonly record struct Sample(TimeSpan User, TimeSpan System, TimeSpan Wall)
{
    public TimeSpan Cpu => User + System;

    public static Sample operator +(Sample a, Sample b) => new(a.User + b.User, a.System + b.System, a.Wall + b.Wall);
}

/// <summary><c>getrusage(RUSAGE_THREAD)</c>: this thread's user and system CPU time, microsecond resolution.</summary>
internal static class ThreadUsage
{
    private const int RusageThread = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxRss, IxRss, IdRss, IsRss, MinFlt, MajFlt, NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NVcsw, NIvcsw;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrusage(int who, out Rusage usage);

    public static (TimeSpan User, TimeSpan System) Read()
    {
        if (getrusage(RusageThread, out var usage) != 0)
        {
            throw new InvalidOperationException("getrusage failed: " + Marshal.GetLastPInvokeError());
        }
        return (TimeSpan.FromMicroseconds(usage.UserSeconds * 1_000_000 + usage.UserMicroseconds),
            TimeSpan.FromMicroseconds(usage.SystemSeconds * 1_000_000 + usage.SystemMicroseconds));
    }
}
