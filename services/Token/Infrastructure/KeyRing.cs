using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.Token.Model;
using StackExchange.Redis;

namespace SecurePlatform.Token.Infrastructure;

/// <summary>
/// token-service's keys: generated here, stored in tokendb encrypted with Data Protection (key ring shared
/// through Redis), rotated on a schedule that every replica reads from the database. Signing keys are
/// self-signed certificates whose validity starts at activation: OpenIddict publishes every registered key
/// in JWKS but signs only with a currently valid one (the one valid longest), so a scheduled key is
/// announced before it signs and a retired one keeps verifying until its tokens have expired. An emergency
/// revocation (<see cref="RevokeAsync"/>) withdraws a key at once; when it was signing, a new key takes over.
/// </summary>
public sealed partial class KeyRing(
    IServiceScopeFactory scopes,
    IDataProtectionProvider dataProtection,
    IOptions<TokenOptions> options,
    TimeProvider clock,
    IMeterFactory meters,
    IConnectionMultiplexer redis,
    ILogger<KeyRing> logger)
    : BackgroundService, IConfigureOptions<OpenIddictServerOptions>, IOptionsChangeTokenSource<OpenIddictServerOptions>
{
    public const string MeterName = "SecurePlatform.Token.KeyRing";

    public const string SigningUse = "signing";
    private const string EncryptionUse = "encryption";
    private static readonly long LockId = BitConverter.ToInt64(SHA256.HashData("secureplatform:token:keyring"u8)[..8]);

    private readonly IDataProtector _protector = dataProtection.CreateProtector("SecurePlatform.Token.Keys");
    private readonly TokenOptions _options = options.Value;
    private readonly Dictionary<string, byte[]?> _material = [];
    private volatile Snapshot? _snapshot;
    private CancellationTokenSource _changed = new();
    private readonly Counter<long> _refreshFailures = meters.Create(MeterName)
        .CreateCounter<long>("secureplatform.token.key_ring.refresh_failures", description: "Key ring refreshes (rotation included) that failed");
    private volatile string? _lastFailure;
    private readonly SemaphoreSlim _gate = new(1, 1); // one refresh or revocation at a time (_material is not thread-safe)
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Name => Microsoft.Extensions.Options.Options.DefaultName;

    /// <summary>The error type of the last refresh when it failed; null once a refresh succeeds.</summary>
    public string? LastRefreshFailure => _lastFailure;

    public string? ActiveKeyId => _snapshot?.ActiveKeyId;

    /// <summary>The key of refresh tokens' tags (<see cref="OpaqueRefreshToken"/>), the same on every replica.</summary>
    public ReadOnlySpan<byte> RefreshTokenKey => (_snapshot ?? throw new InvalidOperationException("The key ring has not been loaded yet.")).RefreshTokenKey;

    /// <summary>The signing keys in JWKS right now.</summary>
    public IReadOnlyList<string> PublishedKeyIds => _snapshot?.PublishedKeyIds ?? [];

    public IChangeToken GetChangeToken() => new CancellationChangeToken(_changed.Token);

    public void Configure(OpenIddictServerOptions server)
    {
        var snapshot = _snapshot ?? throw new InvalidOperationException("The key ring has not been loaded yet.");
        server.SigningCredentials.AddRange(snapshot.Signing);
        server.SigningCredentials.Add(snapshot.InternalSigning); // never in JWKS: OpenIddict publishes asymmetric keys only
        server.EncryptionCredentials.Add(snapshot.Encryption);
        server.JsonWebTokenHandler.SetDefaultTimesOnTokenCreation = true; // adds nbf, which OpenIddict leaves out
    }

    /// <summary>Makes sure the keys the schedule needs exist, then loads them. Called at start-up and on every tick.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await RefreshCoreAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Revokes signing key <paramref name="kid"/> now: it is no longer published or used, and when it was the one
    /// signing, a new key activates in the same transaction (so no older key signs again). The caller puts the
    /// key on the revoked list every service checks; other replicas reload their keys when that message arrives.
    /// </summary>
    public async Task<KeyRevocation> RevokeAsync(string kid, Func<SigningKeyRevoked, SigningKeyRevoked> stamp, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            string? replacement = null;
            await using (var scope = scopes.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
                await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
                await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({LockId})", cancellationToken);
                var now = clock.GetUtcNow();
                var key = await db.SigningKeys.SingleOrDefaultAsync(k => k.Id == kid && k.Use == SigningUse, cancellationToken);
                if (key is null)
                {
                    return new KeyRevocation(KeyRevocationOutcome.NotFound, null);
                }
                if (key.RevokedAt is not null)
                {
                    return new KeyRevocation(KeyRevocationOutcome.AlreadyRevoked, null);
                }
                var signing = Usable(await db.SigningKeys.AsNoTracking().Where(k => k.Use == SigningUse && k.RevokedAt == null).ToListAsync(cancellationToken));
                key.RevokedAt = now;
                if (KeyRotationPlan.Active(signing, now)?.Id == kid)
                {
                    var successor = NewSigningKey(now, now);
                    db.SigningKeys.Add(successor);
                    replacement = successor.Id;
                    LogKeyCreated(successor.Id, successor.Algorithm, now);
                }
                db.AddIntegrationEvent(stamp(new SigningKeyRevoked { KeyId = kid, ReplacementKeyId = replacement }));
                await db.SaveChangesAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
            }
            LogKeyRevoked(kid, replacement);
            await RefreshCoreAsync(cancellationToken); // this replica stops publishing and signing with it now
            return new KeyRevocation(KeyRevocationOutcome.Revoked, replacement);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task RefreshCoreAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
        var now = clock.GetUtcNow();
        var keys = Usable(await db.SigningKeys.AsNoTracking().ToListAsync(cancellationToken));
        var signing = keys.Where(k => k.Use == SigningUse && k.RevokedAt is null).ToList();
        if (!keys.Any(k => k.Use == EncryptionUse)
            || KeyRotationPlan.SuccessorDue(signing, now, _options.KeyRotationPeriod, _options.KeyAnnouncementPeriod) is not null)
        {
            await CreateDueKeysAsync(db, cancellationToken);
            keys = Usable(await db.SigningKeys.AsNoTracking().ToListAsync(cancellationToken));
            signing = keys.Where(k => k.Use == SigningUse && k.RevokedAt is null).ToList();
        }

        var published = KeyRotationPlan.Published(signing, now, MaxTokenLifetime);
        var active = KeyRotationPlan.Active(published, now);
        List<string> ids = [.. published.OrderByDescending(k => k == active).ThenByDescending(k => k.ActivatesAt).Select(k => k.Id)];
        var next = NextTransition(signing, now);
        var encryption = keys.Where(k => k.Use == EncryptionUse).OrderBy(k => k.CreatedAt).Last();
        var current = _snapshot;
        if (current is not null && current.PublishedKeyIds.SequenceEqual(ids) && current.ActiveKeyId == active?.Id)
        {
            _snapshot = current with { NextTransition = next };
            return;
        }
        _snapshot = new Snapshot(
            // Active first: OpenIddict signs with the first credential; it orders certificates by validity
            // itself and keeps the order of the others (ES256 keys are not certificates, see ToCredentials).
            published.OrderByDescending(k => k == active).ThenByDescending(k => k.ActivatesAt).Select(ToCredentials).ToList(),
            ToEncryptingCredentials(encryption),
            ToInternalSigningCredentials(encryption),
            DeriveFromEncryptionKey(encryption, "secureplatform token-service refresh token tag"),
            ids,
            active?.Id,
            next);
        LogKeysLoaded(active?.Id, string.Join(", ", ids));
        var previous = Interlocked.Exchange(ref _changed, new CancellationTokenSource());
        await previous.CancelAsync(); // OpenIddict rebuilds its options (and re-sorts the keys) now
        previous.Dispose();
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await RefreshAsync(cancellationToken); // before the first request: OpenIddict needs keys
        try
        {
            // A key revoked through another replica: reload now rather than at the next tick.
            var channel = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(SessionRevocation.Channel));
            channel.OnMessage(message =>
            {
                if (message.Message.ToString().StartsWith("kid:", StringComparison.Ordinal))
                {
                    Interlocked.Exchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                }
            });
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogRefreshFailed(ex, ex.GetType().Name); // the tick still reloads the keys
        }
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = _snapshot?.NextTransition;
            var wait = _options.KeyRefreshInterval; // also picks up keys another replica created
            if (next is { } at && at - clock.GetUtcNow() < wait)
            {
                wait = at - clock.GetUtcNow() + TimeSpan.FromMilliseconds(50);
            }
            try
            {
                await Task.WhenAny(Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, clock, stoppingToken), _wake.Task);
                stoppingToken.ThrowIfCancellationRequested();
                await RefreshAsync(stoppingToken);
                _lastFailure = null;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Tokens are still signed with the loaded keys, but rotation has stopped: visible in the log,
                // in a metric and as Degraded on /health (KeyRingHealthCheck), retried on the next tick.
                _lastFailure = ex.GetType().Name;
                _refreshFailures.Add(1, new KeyValuePair<string, object?>("error.type", ex.GetType().Name));
                LogRefreshFailed(ex, ex.GetType().Name);
            }
        }
    }

    public override void Dispose()
    {
        _changed.Dispose();
        _gate.Dispose();
        base.Dispose();
    }

    /// <summary>
    /// Keys whose material this replica can decrypt. A key protected under a lost Data Protection key ring
    /// is skipped (and logged once), so the schedule creates new keys instead of the service failing to start.
    /// </summary>
    private List<SigningKey> Usable(List<SigningKey> keys) => keys.Where(key =>
    {
        if (_material.ContainsKey(key.Id))
        {
            return _material[key.Id] is not null;
        }
        try
        {
            _material[key.Id] = _protector.Unprotect(key.ProtectedMaterial);
        }
        catch (CryptographicException)
        {
            _material[key.Id] = null;
            LogUnusableKey(key.Id);
        }
        return _material[key.Id] is not null;
    }).ToList();

    private TimeSpan MaxTokenLifetime =>
        (_options.SessionIdleTimeout > _options.AccessTokenLifetime ? _options.SessionIdleTimeout : _options.AccessTokenLifetime) + TimeSpan.FromMinutes(1);

    private DateTimeOffset? NextTransition(IReadOnlyList<SigningKey> signing, DateTimeOffset now)
    {
        var times = signing.Select(k => k.ActivatesAt).Where(t => t > now).ToList();
        if (KeyRotationPlan.Active(signing, now) is { } active)
        {
            times.Add(active.ActivatesAt + _options.KeyRotationPeriod - _options.KeyAnnouncementPeriod);
        }
        var future = times.Where(t => t > now).ToList();
        return future.Count == 0 ? null : future.Min();
    }

    /// <summary>Creates what the schedule asks for, once across replicas (advisory lock, re-checked under it).</summary>
    private async Task CreateDueKeysAsync(TokenDbContext db, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({LockId})", cancellationToken);
        var now = clock.GetUtcNow();
        var keys = Usable(await db.SigningKeys.ToListAsync(cancellationToken));
        if (!keys.Any(k => k.Use == EncryptionUse))
        {
            db.SigningKeys.Add(new SigningKey
            {
                Id = "enc-" + Guid.CreateVersion7().ToString("N")[..16],
                Use = EncryptionUse,
                Algorithm = SecurityAlgorithms.Aes256KW,
                CreatedAt = now,
                ActivatesAt = now,
                ProtectedMaterial = _protector.Protect(RandomNumberGenerator.GetBytes(32)),
            });
        }
        var signing = keys.Where(k => k.Use == SigningUse && k.RevokedAt is null).ToList();
        if (KeyRotationPlan.SuccessorDue(signing, now, _options.KeyRotationPeriod, _options.KeyAnnouncementPeriod) is { } activatesAt)
        {
            var previous = KeyRotationPlan.Active(signing, now);
            var key = NewSigningKey(now, activatesAt);
            db.SigningKeys.Add(key);
            db.AddIntegrationEvent(new SigningKeyRotated
            {
                SourceService = Protocol.Services.Token,
                Actor = Protocol.Services.Token,
                NewKeyId = key.Id,
                RetiredKeyId = previous?.Id,
                Algorithm = key.Algorithm,
            });
            LogKeyCreated(key.Id, key.Algorithm, activatesAt);
        }
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private SigningKey NewSigningKey(DateTimeOffset now, DateTimeOffset activatesAt)
    {
        var kid = $"sp-{activatesAt:yyyyMMdd}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant()}";
        // Validity grows with activation time, so among valid keys the newest always sorts first.
        var notAfter = activatesAt + _options.KeyRotationPeriod + MaxTokenLifetime + TimeSpan.FromDays(1);
        var algorithm = _options.SigningAlgorithm.ToUpperInvariant();
        using var certificate = algorithm switch
        {
            "ES256" => CreateEcdsaCertificate(kid, activatesAt, notAfter),
            "RS256" or "PS256" => CreateRsaCertificate(kid, activatesAt, notAfter, _options.RsaKeySize),
            _ => throw new InvalidOperationException("Token:SigningAlgorithm is checked at start-up (TokenOptions.Validate)."),
        };
        return new SigningKey
        {
            Id = kid,
            Use = SigningUse,
            Algorithm = algorithm,
            CreatedAt = now,
            ActivatesAt = activatesAt,
            ProtectedMaterial = _protector.Protect(certificate.Export(X509ContentType.Pkcs12)),
        };
    }

    private static X509Certificate2 CreateRsaCertificate(string kid, DateTimeOffset notBefore, DateTimeOffset notAfter, int keySize)
    {
        using var rsa = RSA.Create(keySize);
        var request = new CertificateRequest($"CN={kid}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        return request.CreateSelfSigned(notBefore, notAfter);
    }

    private static X509Certificate2 CreateEcdsaCertificate(string kid, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={kid}", ecdsa, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        return request.CreateSelfSigned(notBefore, notAfter);
    }

    private SigningCredentials ToCredentials(SigningKey key)
    {
        var certificate = X509CertificateLoader.LoadPkcs12(_material[key.Id]!, password: null, X509KeyStorageFlags.EphemeralKeySet);
        // IdentityModel cannot sign ES256 through an X509SecurityKey: hand OpenIddict the bare ECDSA key.
        SecurityKey securityKey = key.Algorithm == "ES256"
            ? new ECDsaSecurityKey(certificate.GetECDsaPrivateKey()!) { KeyId = key.Id }
            : new X509SecurityKey(certificate, key.Id);
        return new SigningCredentials(securityKey, key.Algorithm switch
        {
            "ES256" => SecurityAlgorithms.EcdsaSha256,
            "PS256" => SecurityAlgorithms.RsaSsaPssSha256,
            _ => SecurityAlgorithms.RsaSha256,
        });
    }

    private EncryptingCredentials ToEncryptingCredentials(SigningKey key) =>
        new(new SymmetricSecurityKey(_material[key.Id]!) { KeyId = key.Id }, SecurityAlgorithms.Aes256KW, SecurityAlgorithms.Aes256CbcHmacSha512);

    /// <summary>
    /// The HMAC key for tokens only token-service reads (see <see cref="OpenIddictHandlers.SignTokensByAudience"/>),
    /// derived from the encryption key so that every replica has the same one without another stored secret.
    /// </summary>
    private SigningCredentials ToInternalSigningCredentials(SigningKey encryption) =>
        new(new SymmetricSecurityKey(DeriveFromEncryptionKey(encryption, "secureplatform token-service internal token signing")) { KeyId = "int-" + encryption.Id },
            SecurityAlgorithms.HmacSha256);

    private byte[] DeriveFromEncryptionKey(SigningKey encryption, string purpose) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, _material[encryption.Id]!, 32, salt: [], info: System.Text.Encoding.ASCII.GetBytes(purpose));

    private sealed record Snapshot(
        IReadOnlyList<SigningCredentials> Signing,
        EncryptingCredentials Encryption,
        SigningCredentials InternalSigning,
        byte[] RefreshTokenKey,
        IReadOnlyList<string> PublishedKeyIds,
        string? ActiveKeyId,
        DateTimeOffset? NextTransition);

    [LoggerMessage(Level = LogLevel.Information, Message = "Signing keys loaded: active {ActiveKeyId}; published {Published}")]
    private partial void LogKeysLoaded(string? activeKeyId, string published);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created signing key {KeyId} ({Algorithm}), active from {ActivatesAt:O}")]
    private partial void LogKeyCreated(string keyId, string algorithm, DateTimeOffset activatesAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Signing key {KeyId} revoked; replaced by {ReplacementKeyId}")]
    private partial void LogKeyRevoked(string keyId, string? replacementKeyId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Key {KeyId} cannot be decrypted (Data Protection key ring lost?); it is skipped")]
    private partial void LogUnusableKey(string keyId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Key ring refresh failed ({ErrorType}); keeping the loaded keys, key rotation is stalled until a refresh succeeds")]
    private partial void LogRefreshFailed(Exception exception, string errorType);
}

public enum KeyRevocationOutcome
{
    Revoked,
    NotFound,
    AlreadyRevoked,
}

/// <summary>What a revocation did; <see cref="ReplacementKeyId"/> is the key that took over signing, if one had to.</summary>
public sealed record KeyRevocation(KeyRevocationOutcome Outcome, string? ReplacementKeyId);

/// <summary>Degraded while the key ring cannot refresh: tokens still verify, but no key rotates until it can.</summary>
public sealed class KeyRingHealthCheck(KeyRing keys) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(keys.LastRefreshFailure is null
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Degraded("The signing key ring could not be refreshed; key rotation is stalled."));
}
