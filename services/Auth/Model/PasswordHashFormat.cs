using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace SecurePlatform.Auth.Model;

/// <summary>Argon2id cost parameters: iterations (t), memory in KiB (m), lanes (p).</summary>
public readonly record struct Argon2Parameters(int Iterations, int MemoryKiB, int Parallelism)
{
    /// <summary>OWASP Password Storage Cheat Sheet minimum for Argon2id: m=19 MiB, t=2, p=1.</summary>
    public static readonly Argon2Parameters OwaspMinimum = new(2, 19 * 1024, 1);

    public bool IsAtLeast(Argon2Parameters other) => Iterations >= other.Iterations && MemoryKiB >= other.MemoryKiB;

    public override string ToString() => $"m={MemoryKiB},t={Iterations},p={Parallelism}";
}

/// <summary>
/// The stored password-hash format, versioned so that the scheme and its costs can rise later:
/// <c>$sp{version}</c> followed by the scheme's own string. Version 1 is Argon2id in the PHC string
/// format of libsodium/the reference implementation:
/// <c>$sp1$argon2id$v=19$m=19456,t=2,p=1$&lt;salt b64&gt;$&lt;hash b64&gt;</c>.
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
