using StackExchange.Redis;

namespace SecurePlatform.ServiceDefaults.Auth;

/// <summary>
/// Writes revocations the way every service's check reads them: keys with a TTL that outlives any access
/// token they concern, all in one pipeline, then a message on the channel so caches drop the session.
/// </summary>
public sealed class SessionRevocationWriter(IConnectionMultiplexer redis)
{
    /// <summary>Revokes the given sessions.</summary>
    public async Task RevokeSessionsAsync(IReadOnlyCollection<string> sids, TimeSpan keyLifetime)
    {
        if (sids.Count == 0)
        {
            return;
        }
        var db = redis.GetDatabase();
        var batch = db.CreateBatch();
        var writes = sids.Select(sid => batch.StringSetAsync(SessionRevocation.SidKey(sid), "1", keyLifetime)).ToList();
        var messages = sids.Select(sid => batch.PublishAsync(RedisChannel.Literal(SessionRevocation.Channel), SessionRevocation.SidMessage(sid))).ToList();
        batch.Execute();
        await Task.WhenAll(writes);
        await Task.WhenAll(messages);
    }

    /// <summary>
    /// Revokes every session of <paramref name="sub"/> that began before <paramref name="revokedAtMs"/>:
    /// the listed sessions by id, and any other (one being created right now, say) through the subject key.
    /// </summary>
    public async Task RevokeSubjectAsync(string sub, IReadOnlyCollection<string> sids, long revokedAtMs, TimeSpan keyLifetime)
    {
        var db = redis.GetDatabase();
        var batch = db.CreateBatch();
        var writes = new List<Task> { batch.StringSetAsync(SessionRevocation.SubKey(sub), revokedAtMs, keyLifetime) };
        writes.AddRange(sids.Select(sid => batch.StringSetAsync(SessionRevocation.SidKey(sid), "1", keyLifetime)));
        writes.Add(batch.PublishAsync(RedisChannel.Literal(SessionRevocation.Channel), SessionRevocation.SubMessage(sub, revokedAtMs)));
        writes.AddRange(sids.Select(sid => batch.PublishAsync(RedisChannel.Literal(SessionRevocation.Channel), SessionRevocation.SidMessage(sid))));
        batch.Execute();
        await Task.WhenAll(writes);
    }

    /// <summary>Revokes a signing key: every service refuses the tokens it signed, within a channel message.</summary>
    public async Task RevokeSigningKeyAsync(string kid)
    {
        var db = redis.GetDatabase();
        await db.SetAddAsync(SessionRevocation.SigningKeysKey, kid);
        await redis.GetSubscriber().PublishAsync(RedisChannel.Literal(SessionRevocation.Channel), SessionRevocation.SigningKeyMessage(kid));
    }

    private static readonly LuaScript RaiseMarker = LuaScript.Prepare(
        "local v = redis.call('GET', @key) if (not v) or (tonumber(v) or 0) < tonumber(@value) then redis.call('SET', @key, @value) end return 1");

    /// <summary>Moves the "complete as of" marker forward (never back): every revocation committed before <paramref name="asOfMs"/> is in Redis.</summary>
    public Task MarkCompleteAsync(long asOfMs) =>
        redis.GetDatabase().ScriptEvaluateAsync(RaiseMarker, new { key = (RedisKey)SessionRevocation.CompleteKey, value = asOfMs });

    // Never lowers a subject's revocation time: a replayed older one must not undo a newer one written live.
    private static readonly LuaScript RaiseSubject = LuaScript.Prepare(
        "local v = redis.call('GET', @key) if (not v) or tonumber(v) < tonumber(@value) then redis.call('SET', @key, @value, 'PX', @ttl) end return 1");

    /// <summary>
    /// Writes revocations again from the durable record (token-service's tokendb), each key with what is left of
    /// its lifetime, and announces them on the channel so no cache keeps a session it filled meanwhile. Idempotent.
    /// </summary>
    public async Task RestoreAsync(
        IReadOnlyCollection<(string Sid, TimeSpan Ttl)> sessions, IReadOnlyCollection<(string Sub, long RevokedAtMs, TimeSpan Ttl)> subjects,
        IReadOnlyCollection<string> signingKeys, long completeAsOfMs)
    {
        var db = redis.GetDatabase();
        var batch = db.CreateBatch();
        var writes = new List<Task>();
        foreach (var kid in signingKeys)
        {
            writes.Add(batch.SetAddAsync(SessionRevocation.SigningKeysKey, kid));
            writes.Add(batch.PublishAsync(RedisChannel.Literal(SessionRevocation.Channel), SessionRevocation.SigningKeyMessage(kid)));
        }
        foreach (var (sub, revokedAtMs, ttl) in subjects)
        {
            writes.Add(batch.ScriptEvaluateAsync(RaiseSubject, new { key = (RedisKey)SessionRevocation.SubKey(sub), value = revokedAtMs, ttl = (long)ttl.TotalMilliseconds }));
            writes.Add(batch.PublishAsync(RedisChannel.Literal(SessionRevocation.Channel), SessionRevocation.SubMessage(sub, revokedAtMs)));
        }
        foreach (var (sid, ttl) in sessions)
        {
            writes.Add(batch.StringSetAsync(SessionRevocation.SidKey(sid), "1", ttl));
            writes.Add(batch.PublishAsync(RedisChannel.Literal(SessionRevocation.Channel), SessionRevocation.SidMessage(sid)));
        }
        // Last in the batch (one connection, in order): Redis now holds the whole record again.
        writes.Add(batch.ScriptEvaluateAsync(RaiseMarker, new { key = (RedisKey)SessionRevocation.CompleteKey, value = completeAsOfMs }));
        batch.Execute();
        await Task.WhenAll(writes);
    }
}
