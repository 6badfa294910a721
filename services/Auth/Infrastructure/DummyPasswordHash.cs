using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using SecurePlatform.Auth.Model;

namespace SecurePlatform.Auth.Infrastructure;

/// <summary>
/// A hash of a random password with the current parameters, made once per process. Sign-in verifies the
/// submitted password against it when the account is unknown or disabled, so those answers cost the same
/// Argon2id work as a wrong password and cannot be told apart by timing.
/// </summary>
public sealed class DummyPasswordHash(IPasswordHasher<User> hasher)
{
    private static readonly User Nobody = new();

    private readonly Lazy<string> _hash = new(() => hasher.HashPassword(Nobody, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))));

    /// <summary>Burns one verification; always fails.</summary>
    public void Verify(string providedPassword) => hasher.VerifyHashedPassword(Nobody, _hash.Value, providedPassword);

    /// <summary>Computes the hash ahead of the first request.</summary>
    public void Warm() => _ = _hash.Value;
}
