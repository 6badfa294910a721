using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using SecurePlatform.Auth.Model;

namespace SecurePlatform.Auth.Infrastructure;

/// <summary>
/// Section <c>PasswordHashing</c>: Argon2id costs of new hashes (and of the decoy verification). Never below one of
/// OWASP's equal-strength configurations (<see cref="Argon2Parameters.OwaspEqualStrength"/>).
/// </summary>
public sealed class PasswordHashingOptions
{
    public const string SectionName = "PasswordHashing";

    public int Iterations { get; set; } = Argon2Parameters.Default.Iterations;

    public int MemoryKiB { get; set; } = Argon2Parameters.Default.MemoryKiB;

    public Argon2Parameters Parameters => new(Iterations, MemoryKiB, 1);
}

/// <summary>
/// Identity's password hasher on Argon2id from libsodium (through Geralt: <c>crypto_pwhash_str</c> and
/// <c>crypto_pwhash_str_verify</c>, which compares in constant time), in the versioned format of
/// <see cref="PasswordHashFormat"/>. The password is hashed as typed, as UTF-8; the byte copy is wiped.
/// </summary>
public sealed class Argon2idPasswordHasher : IPasswordHasher<User>
{
    private readonly Argon2Parameters _parameters;
    private readonly PasswordHasher<User> _legacy = new();

    public Argon2idPasswordHasher(IOptions<PasswordHashingOptions> options)
        : this(options.Value.Parameters)
    {
    }

    /// <summary>Any parameters libsodium accepts; the OWASP floor is enforced on the configured options, not here (tests build old hashes).</summary>
    public Argon2idPasswordHasher(Argon2Parameters parameters)
    {
        if (parameters.Parallelism != 1)
        {
            throw new ArgumentOutOfRangeException(nameof(parameters), "libsodium's Argon2id uses one lane (p=1).");
        }
        _parameters = parameters;
    }

    public Argon2Parameters Parameters => _parameters;

    public string HashPassword(User user, string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        Span<char> phc = stackalloc char[Geralt.Argon2id.HashSize];
        var buffer = RentUtf8(password, out var length);
        try
        {
            Geralt.Argon2id.ComputeHash(phc, buffer.AsSpan(0, length), _parameters.Iterations, _parameters.MemoryKiB * 1024);
        }
        finally
        {
            Return(buffer, length);
        }
        var end = phc.IndexOf('\0');
        return PasswordHashFormat.Format(PasswordHashFormat.CurrentVersion, new string(end < 0 ? phc : phc[..end]));
    }

    public PasswordVerificationResult VerifyHashedPassword(User user, string hashedPassword, string providedPassword)
    {
        ArgumentNullException.ThrowIfNull(providedPassword);
        if (string.IsNullOrEmpty(hashedPassword))
        {
            return PasswordVerificationResult.Failed;
        }
        if (!PasswordHashFormat.TryParse(hashedPassword, out var version, out var schemeHash))
        {
            return VerifyLegacy(user, hashedPassword, providedPassword);
        }
        if (version != 1 || !PasswordHashFormat.TryReadArgon2idParameters(schemeHash, out var stored))
        {
            return PasswordVerificationResult.Failed; // a version this build does not know, or a corrupt value
        }
        bool verified;
        var buffer = RentUtf8(providedPassword, out var length);
        try
        {
            verified = Geralt.Argon2id.VerifyHash(schemeHash, buffer.AsSpan(0, length));
        }
        catch (ArgumentException)
        {
            verified = false; // a stored value libsodium cannot parse
        }
        finally
        {
            Return(buffer, length);
        }
        if (!verified)
        {
            return PasswordVerificationResult.Failed;
        }
        return PasswordHashFormat.NeedsRehash(version, stored, _parameters)
            ? PasswordVerificationResult.SuccessRehashNeeded
            : PasswordVerificationResult.Success;
    }

    /// <summary>Identity's own PBKDF2 hashes (accounts imported from a stock Identity store): valid once, then re-hashed.</summary>
    private PasswordVerificationResult VerifyLegacy(User user, string hashedPassword, string providedPassword)
    {
        try
        {
            return _legacy.VerifyHashedPassword(user, hashedPassword, providedPassword) == PasswordVerificationResult.Failed
                ? PasswordVerificationResult.Failed
                : PasswordVerificationResult.SuccessRehashNeeded;
        }
        catch (FormatException)
        {
            return PasswordVerificationResult.Failed;
        }
    }

    private static byte[] RentUtf8(string password, out int length)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(password.Length));
        length = Encoding.UTF8.GetBytes(password, buffer);
        return buffer;
    }

    private static void Return(byte[] buffer, int length)
    {
        CryptographicOperations.ZeroMemory(buffer.AsSpan(0, length));
        ArrayPool<byte>.Shared.Return(buffer);
    }
}
