using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Npgsql;
using OpenIddict.Server;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Model;
using Application = OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreApplication;

namespace SecurePlatform.Token.Services;

/// <summary>
/// Sends OpenID Connect back-channel logout tokens. The sessions table is the outbox: a session that was revoked —
/// by whichever path, committed with the revocation itself — and belongs to a client with a back-channel logout URI
/// is a notification owed until <c>backchannel_logout_done_at</c> is set. Each replica claims due rows with a lease
/// (<c>FOR UPDATE SKIP LOCKED</c>, so two replicas never send the same one at once; a replica that dies mid-send
/// leaves the lease to expire), posts, and records delivered, refused or a later retry (<see cref="BackchannelLogout.Next"/>).
/// A client is told at least once; a repeated token is harmless to it (same <c>sid</c>).
/// </summary>
public sealed partial class BackchannelLogoutDelivery(
    IServiceScopeFactory scopes,
    IOptionsMonitor<OpenIddictServerOptions> server,
    IOptions<TokenOptions> options,
    OutboxSignal outboxSignal,
    TimeProvider clock,
    ILogger<BackchannelLogoutDelivery> logger) : BackgroundService
{
    private const int BatchSize = 20;
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long a claimed notification is this replica's; longer than one attempt can take.</summary>
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _signal = new(0);

    // Its own client, not one from the factory: the platform's default resilience handler would retry inside an
    // attempt (our schedule is BackchannelLogout.Next) and a redirect is never followed.
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        Timeout = options.Value.BackchannelLogoutTimeout,
    };

    public override void Dispose()
    {
        _http.Dispose();
        _signal.Dispose();
        base.Dispose();
    }

    /// <summary>A session was revoked here: look now rather than at the next poll.</summary>
    public void Notify()
    {
        if (_signal.CurrentCount == 0)
        {
            _signal.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var claimed = 0;
            try
            {
                claimed = await DeliverDueAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogRoundFailed(ex.GetType().Name);
            }
            if (claimed == BatchSize)
            {
                continue; // more are due
            }
            try
            {
                await _signal.WaitAsync(PollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>A claimed notification (columns in the platform's snake_case, as EF maps them).</summary>
    private sealed record Owed(Guid Id, string Subject, string ClientId, DateTimeOffset RevokedAt, int Attempts);

    private async Task<int> DeliverDueAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
        var uris = await LogoutUrisAsync(db, cancellationToken);
        if (uris.Count == 0)
        {
            return 0;
        }
        var now = clock.GetUtcNow();
        var settings = options.Value;
        var owed = await db.Database.SqlQueryRaw<Owed>("""
            UPDATE sessions s
               SET backchannel_logout_attempts = s.backchannel_logout_attempts + 1, backchannel_logout_next_at = @lease_until
              FROM (SELECT id FROM sessions
                     WHERE client_id = ANY(@clients) AND revoked_at > @horizon AND backchannel_logout_done_at IS NULL
                       AND (backchannel_logout_next_at IS NULL OR backchannel_logout_next_at <= @now)
                     ORDER BY revoked_at LIMIT @batch
                       FOR UPDATE SKIP LOCKED) due
             WHERE s.id = due.id
            RETURNING s.id, s.subject, s.client_id, s.revoked_at, s.backchannel_logout_attempts AS attempts
            """,
            new NpgsqlParameter("lease_until", now + Lease),
            new NpgsqlParameter("clients", uris.Keys.ToArray()),
            new NpgsqlParameter("horizon", now - settings.BackchannelLogoutRetryPeriod),
            new NpgsqlParameter("now", now),
            new NpgsqlParameter("batch", BatchSize)).ToListAsync(cancellationToken);
        if (owed.Count == 0)
        {
            return 0;
        }

        var answers = new int?[owed.Count];
        await Parallel.ForAsync(0, owed.Count, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken },
            async (i, ct) => answers[i] = await PostAsync(uris[owed[i].ClientId], LogoutToken(owed[i]), ct));

        now = clock.GetUtcNow();
        var settled = false;
        for (var i = 0; i < owed.Count; i++)
        {
            var step = BackchannelLogout.Next(answers[i], owed[i].Attempts, owed[i].RevokedAt, now, settings.BackchannelLogoutRetryDelay, settings.BackchannelLogoutRetryPeriod);
            var session = await db.Sessions.FirstAsync(s => s.Id == owed[i].Id, cancellationToken);
            session.BackchannelLogoutNextAt = step.RetryAt;
            if (step.Done)
            {
                session.BackchannelLogoutDoneAt = now;
                db.AddIntegrationEvent(new BackchannelLogoutNotified
                {
                    SessionId = session.Id.ToString(), ClientId = session.ClientId, Outcome = step.Outcome!, Attempts = owed[i].Attempts, StatusCode = answers[i],
                }.Stamp(SessionService.SourceService, null, SessionService.SourceService, session.Subject));
                settled = true;
                if (step.Outcome != BackchannelLogoutOutcomes.Delivered)
                {
                    LogGivenUp(session.ClientId, step.Outcome!, owed[i].Attempts, answers[i]);
                }
            }
            await db.SaveChangesAsync(cancellationToken);
        }
        if (settled)
        {
            outboxSignal.Notify();
        }
        return owed.Count;
    }

    /// <summary>The clients that registered a back-channel logout URI (a handful of rows; read every round, so a change applies at once).</summary>
    private static async Task<Dictionary<string, Uri>> LogoutUrisAsync(TokenDbContext db, CancellationToken cancellationToken)
    {
        var rows = await db.Set<Application>().AsNoTracking()
            .Where(a => a.ClientId != null && a.Properties != null && a.Properties.Contains(BackchannelLogout.UriProperty))
            .Select(a => new { a.ClientId, a.Properties })
            .ToListAsync(cancellationToken);
        var uris = new Dictionary<string, Uri>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            using var properties = JsonDocument.Parse(row.Properties!);
            if (properties.RootElement.TryGetProperty(BackchannelLogout.UriProperty, out var value) && value.ValueKind == JsonValueKind.String
                && Uri.TryCreate(value.GetString(), UriKind.Absolute, out var uri))
            {
                uris[row.ClientId!] = uri;
            }
        }
        return uris;
    }

    /// <summary>Signed like the session's identity tokens: same issuer, the active asymmetric key (published in JWKS).</summary>
    private string LogoutToken(Owed owed)
    {
        var current = server.CurrentValue;
        var now = clock.GetUtcNow().UtcDateTime;
        return current.JsonWebTokenHandler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = current.Issuer?.AbsoluteUri ?? throw new InvalidOperationException("Token:Issuer is needed to sign logout tokens."),
            Audience = owed.ClientId,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + BackchannelLogout.TokenLifetime,
            TokenType = BackchannelLogout.TokenType,
            Claims = BackchannelLogout.Claims(owed.Subject, owed.Id, Guid.NewGuid().ToString("N")),
            SigningCredentials = current.SigningCredentials.First(c => c.Key is AsymmetricSecurityKey),
        });
    }

    /// <summary>The client's status code, or null when it did not answer in time (or at all).</summary>
    private async Task<int?> PostAsync(Uri uri, string logoutToken, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.PostAsync(uri, new FormUrlEncodedContent([new("logout_token", logoutToken)]), cancellationToken);
            return (int)response.StatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Back-channel logout round failed ({ErrorType}); retrying")]
    private partial void LogRoundFailed(string errorType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Back-channel logout to client {ClientId} {Outcome} after {Attempts} attempts (last status {StatusCode})")]
    private partial void LogGivenUp(string clientId, string outcome, int attempts, int? statusCode);
}
