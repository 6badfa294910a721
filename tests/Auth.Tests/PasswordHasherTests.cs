using System.Diagnostics;
using Microsoft.AspNetCore.Identity;
using SecurePlatform.Auth.Infrastructure;
using SecurePlatform.Auth.Model;
using Xunit.Abstractions;

namespace SecurePlatform.Auth.Tests;

/// <summary>Argon2id behind Identity's IPasswordHasher. Each hash costs tens of milliseconds: few of them here.</summary>
public class PasswordHasherTests(ITestOutputHelper output)
{
    private const string Password = "zebra glacier 47 lantern";
    private static readonly User AnyUser = new();
    private static readonly Argon2idPasswordHasher Current = new(Argon2Parameters.Default);
    private static readonly Argon2idPasswordHasher Old = new(new Argon2Parameters(1, 8 * 1024, 1));

    [Fact]
    public void A_hash_is_versioned_argon2id_at_owasp_parameters_and_verifies_only_the_same_password()
    {
        var hash = Current.HashPassword(AnyUser, Password);

        Assert.StartsWith("$sp1$argon2id$v=19$m=7168,t=5,p=1$", hash);
        Assert.Equal(PasswordVerificationResult.Success, Current.VerifyHashedPassword(AnyUser, hash, Password));
        Assert.Equal(PasswordVerificationResult.Failed, Current.VerifyHashedPassword(AnyUser, hash, Password.ToUpperInvariant()));
        Assert.Equal(PasswordVerificationResult.Failed, Current.VerifyHashedPassword(AnyUser, hash, Password + " "));
    }

    [Fact]
    public void The_same_password_hashes_differently_every_time_because_of_the_salt()
    {
        var first = Current.HashPassword(AnyUser, Password);
        var second = Current.HashPassword(AnyUser, Password);

        Assert.NotEqual(first, second);
        Assert.True(PasswordHashFormat.TryParse(first, out _, out var a));
        Assert.True(PasswordHashFormat.TryParse(second, out _, out var b));
        Assert.NotEqual(a.Split('$')[4], b.Split('$')[4]); // salts
    }

    [Fact]
    public void A_hash_with_older_parameters_verifies_but_asks_for_a_rehash()
    {
        var old = Old.HashPassword(AnyUser, Password);
        Assert.StartsWith("$sp1$argon2id$v=19$m=8192,t=1,p=1$", old);

        Assert.Equal(PasswordVerificationResult.SuccessRehashNeeded, Current.VerifyHashedPassword(AnyUser, old, Password));
        Assert.Equal(PasswordVerificationResult.Failed, Current.VerifyHashedPassword(AnyUser, old, "wrong password 123"));
        Assert.Equal(PasswordVerificationResult.Success, Old.VerifyHashedPassword(AnyUser, old, Password));
    }

    [Fact]
    public void An_identity_pbkdf2_hash_is_accepted_once_with_a_rehash()
    {
        var legacy = new PasswordHasher<User>().HashPassword(AnyUser, Password);

        Assert.Equal(PasswordVerificationResult.SuccessRehashNeeded, Current.VerifyHashedPassword(AnyUser, legacy, Password));
        Assert.Equal(PasswordVerificationResult.Failed, Current.VerifyHashedPassword(AnyUser, legacy, "wrong password 123"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("$sp2$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")] // unknown version
    [InlineData("$sp1$argon2id$v=19$m=19456,t=2,p=1$short$x")]
    [InlineData("$sp1$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")]
    public void Unknown_or_corrupt_hashes_never_verify(string stored)
    {
        Assert.Equal(PasswordVerificationResult.Failed, Current.VerifyHashedPassword(AnyUser, stored, Password));
    }

    [Theory]
    [InlineData(1, 5, 7168, false)]
    [InlineData(1, 2, 19456, true)] // the previous default: re-hashed although it is as strong
    [InlineData(1, 6, 7168, true)]
    [InlineData(1, 5, 8192, true)]
    [InlineData(1, 4, 7168, true)]
    public void Rehash_is_needed_whenever_the_costs_differ_from_the_configured_ones(int version, int t, int m, bool needed)
    {
        Assert.Equal(needed, PasswordHashFormat.NeedsRehash(version, new Argon2Parameters(t, m, 1), Argon2Parameters.Default));
    }

    [Fact]
    public void The_format_round_trips_and_reads_the_parameters()
    {
        var stored = PasswordHashFormat.Format(1, "$argon2id$v=19$m=47104,t=1,p=1$c2FsdA$aGFzaA");

        Assert.True(PasswordHashFormat.TryParse(stored, out var version, out var phc));
        Assert.Equal(1, version);
        Assert.True(PasswordHashFormat.TryReadArgon2idParameters(phc!, out var parameters));
        Assert.Equal(new Argon2Parameters(1, 47104, 1), parameters);
        Assert.False(PasswordHashFormat.TryParse("$spx$argon2id$", out _, out _));
        Assert.False(PasswordHashFormat.TryParse("$sp0$argon2id$", out _, out _));
    }

    [Theory]
    [InlineData(5, 7168, true)]
    [InlineData(4, 9216, true)]
    [InlineData(3, 12288, true)]
    [InlineData(2, 19456, true)]
    [InlineData(1, 47104, true)]
    [InlineData(3, 16384, true)] // above m=12 MiB t=3
    [InlineData(1, 65536, true)]
    [InlineData(4, 7168, false)] // 7 MiB needs 5 passes
    [InlineData(2, 16384, false)] // between 12 and 19 MiB, but only 2 passes
    [InlineData(1, 46080, false)] // one pass needs 46 MiB
    [InlineData(9, 6144, false)] // below every listed memory size, whatever the passes
    public void Configured_costs_must_reach_one_of_the_owasp_configurations(int t, int m, bool accepted)
    {
        Assert.Equal(accepted, new Argon2Parameters(t, m, 1).MeetsOwaspFloor);
    }

    [Fact]
    public void Measure_the_cost_of_one_hash_and_one_verification()
    {
        var hash = Current.HashPassword(AnyUser, Password); // warm-up
        var hashing = new List<double>();
        var verifying = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var watch = Stopwatch.StartNew();
            hash = Current.HashPassword(AnyUser, Password);
            hashing.Add(watch.Elapsed.TotalMilliseconds);
            watch.Restart();
            Current.VerifyHashedPassword(AnyUser, hash, Password);
            verifying.Add(watch.Elapsed.TotalMilliseconds);
        }
        hashing.Sort();
        verifying.Sort();
        output.WriteLine($"Argon2id {Argon2Parameters.Default}: hash median {hashing[2]:F1} ms (min {hashing[0]:F1}, max {hashing[4]:F1}); verify median {verifying[2]:F1} ms");
        Assert.InRange(hashing[2], 1, 2000); // a sanity bound only: the number is reported, not asserted
    }
}
