using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace SecurePlatform.Auth.Model;

/// <summary>Argon2id cost parameters: iterations (t), memory in KiB (m), lanes (p).</summary>
public readonly record struct Argon2Parameters(int Iterations, int MemoryKiB, int Parallelism)
{
    /// <summary>OWASP's m=19 MiB, t=2, p=1: the platform's default until 2026-12 (hashes made with it are re-hashed at the next sign-in).</summary>
    public static readonly Argon2Parameters Owasp19MiB = new(2, 19 * 1024, 1);

    /// <summary>
    /// OWASP's m=7 MiB, t=5, p=1 (also Keycloak's default): the default of new hashes. Equal strength to
    /// <see cref="Owasp19MiB"/> by OWASP's list, and the cheapest of that list to compute here, because libsodium
    /// maps, faults in and zeroes the whole memory on every hash (bench/README.md, "Password hashing").
    /// </summary>
    public static readonly Argon2Parameters Default = new(5, 7 * 1024, 1);

    /// <summary>
    /// The OWASP Password Storage Cheat Sheet's Argon2id configurations "of equal strength" (p=1): less memory
    /// traded for more passes. Configured costs must reach at least one of them in both memory and passes.
    /// </summary>
    public static readonly IReadOnlyList<Argon2Parameters> OwaspEqualStrength =
    [
        new(1, 46 * 1024, 1),
        Owasp19MiB,
        new(3, 12 * 1024, 1),
        new(4, 9 * 1024, 1),
        Default,
    ];

    public bool IsAtLeast(Argon2Parameters other) => Iterations >= other.Iterations && MemoryKiB >= other.MemoryKiB;

    /// <summary>At least as costly, in both memory and passes, as one of <see cref="OwaspEqualStrength"/>.</summary>
    public bool MeetsOwaspFloor => OwaspEqualStrength.Any(IsAtLeast);

    public override string ToString() => $"m={MemoryKiB},t={Iterations},p={Parallelism}";
}

/// <summary>
/// The stored password-hash format, versioned so that the scheme and its costs can rise later:
/// <c>$sp{version}</c> followed by the scheme's own string. Version 1 is Argon2id in the PHC string
/// format of libsodium/the reference implementation:
/// <c>$sp1$argon2id$v=19$m=7168,t=5,p=1$&lt;salt b64&gt;$&lt;hash b64&gt;</c>.
/// A hash needs re-hashing when its version is older than <see cref="CurrentVersion"/> or its cost
/// parameters differ from the configured ones; Identity then stores a new hash at the next sign-in.
/// Hashes without the prefix are ASP.NET Core Identity's own (PBKDF2, base64): accepted once, then re-hashed.
/// </summary>
public static class PasswordHashFormat
{
    public const int CurrentVersion = 1;
    private const string Prefix = "$sp";

    public static string Format(int version, string schemeHash)
    {
        if (!schemeHash.StartsWith('$'))
        {
            throw new ArgumentException("The scheme hash must start with '$'.", nameof(schemeHash));
        }
        return Prefix + version.ToString(CultureInfo.InvariantCulture) + schemeHash;
    }

    /// <summary>Splits <c>$sp{version}{scheme hash}</c>; false for anything else (a legacy or corrupt value).</summary>
    public static bool TryParse(string? stored, out int version, [NotNullWhen(true)] out string? schemeHash)
    {
        version = 0;
        schemeHash = null;
        if (stored is null || !stored.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }
        var end = stored.IndexOf('$', Prefix.Length);
        if (end <= Prefix.Length
            || !int.TryParse(stored.AsSpan(Prefix.Length, end - Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out version)
            || version < 1)
        {
            return false;
        }
        schemeHash = stored[end..];
        return true;
    }

    /// <summary>Reads m, t, p from an Argon2id PHC string (<c>$argon2id$v=19$m=…,t=…,p=…$salt$hash</c>).</summary>
    public static bool TryReadArgon2idParameters(string phc, out Argon2Parameters parameters)
    {
        parameters = default;
        var parts = phc.Split('$');
        // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
        if (parts.Length != 6 || parts[0].Length != 0 || parts[1] != "argon2id" || parts[2] != "v=19")
        {
            return false;
        }
        int? m = null, t = null, p = null;
        foreach (var pair in parts[3].Split(','))
        {
            var kv = pair.Split('=', 2);
            if (kv.Length != 2 || !int.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                return false;
            }
            switch (kv[0])
            {
                case "m": m = value; break;
                case "t": t = value; break;
                case "p": p = value; break;
                default: return false;
            }
        }
        if (m is null || t is null || p is null)
        {
            return false;
        }
        parameters = new Argon2Parameters(t.Value, m.Value, p.Value);
        return true;
    }

    /// <summary>Whether a verified hash of <paramref name="version"/> with <paramref name="stored"/> costs should be replaced.</summary>
    public static bool NeedsRehash(int version, Argon2Parameters stored, Argon2Parameters current)
        => version < CurrentVersion || stored != current;
}
