using System.Text;
using System.Text.Json;
using SecurePlatform.Audit.Model;
using SecurePlatform.Contracts;

namespace SecurePlatform.Audit.Tests;

/// <summary>The pure rules: canonical form, hash chain, verifier, cursor, filter validation. No host, no servers.</summary>
public class AuditRulesTests
{
    private static AuditEvent Row(string subject = "user-1", string payload = """{"sessionId":"s1"}""") => new()
    {
        EventId = Guid.CreateVersion7(),
        Type = "LoginSucceeded",
        OccurredAt = new DateTimeOffset(2026, 1, 31, 12, 0, 0, TimeSpan.Zero).AddTicks(1234567),
        RecordedAt = new DateTimeOffset(2026, 1, 31, 12, 0, 1, TimeSpan.Zero),
        Actor = subject,
        Subject = subject,
        SourceService = "auth-service",
        Ip = "203.0.113.7",
        UserAgent = "Mozilla/5.0",
        CorrelationId = "4bf92f3577b34da6a3ce929d0e0e4736",
        Payload = payload,
    };

    private static List<AuditEvent> Chain(int count)
    {
        var head = ChainHead.Empty;
        var rows = new List<AuditEvent>();
        for (var i = 0; i < count; i++)
        {
            var row = Row($"user-{i % 3}");
            AuditChain.Link(row, head);
            head = new ChainHead(row.Sequence, row.Hash);
            rows.Add(row);
        }
        return rows;
    }

    [Fact]
    public void Canonical_payload_is_independent_of_key_order_and_whitespace()
    {
        using var a = JsonDocument.Parse("""{ "b": [1, 2], "a": {"y": true, "x": null} }""");
        using var b = JsonDocument.Parse("""{"a":{"x":null,"y":true},"b":[1,2]}""");
        Assert.Equal("""{"a":{"x":null,"y":true},"b":[1,2]}""", AuditCanonicalForm.CanonicalJson(a.RootElement));
        Assert.Equal(AuditCanonicalForm.CanonicalJson(a.RootElement), AuditCanonicalForm.CanonicalJson(b.RootElement));
    }

    [Theory]
    [InlineData("1E+2", "100")]
    [InlineData("1.50", "1.50")]
    [InlineData("0.0015", "0.0015")]
    [InlineData("-7", "-7")]
    public void Numbers_take_the_plain_decimal_form_jsonb_prints(string input, string canonical)
    {
        using var doc = JsonDocument.Parse($$"""{"n":{{input}}}""");
        Assert.Equal($$"""{"n":{{canonical}}}""", AuditCanonicalForm.CanonicalJson(doc.RootElement));
    }

    [Fact]
    public void The_hash_of_a_row_is_stable_across_the_jsonb_round_trip_of_its_payload()
    {
        var stored = Row(payload: """{"amr":["pwd","otp"],"clientId":"spa","sessionId":"s1"}""");
        AuditChain.Link(stored, ChainHead.Empty);
        // jsonb prints keys by length, then bytes, with spaces: a different text, the same value.
        var readBack = Row(payload: """{"amr": ["pwd", "otp"], "clientId": "spa", "sessionId": "s1"}""");
        readBack.EventId = stored.EventId;
        readBack.Sequence = stored.Sequence;
        readBack.PrevHash = stored.PrevHash;
        Assert.Equal(stored.Hash, AuditChain.ComputeHash(readBack));
    }

    [Fact]
    public void Timestamps_are_hashed_at_microsecond_precision_in_utc()
    {
        var value = new DateTimeOffset(2026, 1, 31, 13, 0, 0, TimeSpan.FromHours(1)).AddTicks(1234567);
        Assert.Equal("2026-01-31T12:00:00.123456Z", AuditCanonicalForm.FormatTimestamp(value));
        var a = Row();
        var b = Row();
        b.EventId = a.EventId;
        b.OccurredAt = a.OccurredAt.AddTicks(2); // below PostgreSQL's resolution
        Assert.Equal(AuditChain.ComputeHash(a), AuditChain.ComputeHash(b));
    }

    [Fact]
    public void Every_field_of_a_row_is_covered_by_its_hash()
    {
        var original = Row();
        AuditChain.Link(original, ChainHead.Empty);
        var hash = AuditChain.ComputeHash(original);
        var mutations = new Action<AuditEvent>[]
        {
            r => r.Sequence++, r => r.EventId = Guid.NewGuid(), r => r.Type = "LoginFailed", r => r.OccurredAt = r.OccurredAt.AddSeconds(1),
            r => r.RecordedAt = r.RecordedAt.AddSeconds(1), r => r.Actor = "admin", r => r.Actor = null, r => r.Subject = "someone-else",
            r => r.SourceService = "token-service", r => r.Ip = "198.51.100.1", r => r.UserAgent = "curl", r => r.CorrelationId = null,
            r => r.Payload = """{"sessionId":"s2"}""", r => r.PrevHash = Enumerable.Repeat((byte)1, 32).ToArray(),
        };
        foreach (var mutate in mutations)
        {
            var copy = Row();
            copy.EventId = original.EventId;
            copy.Sequence = original.Sequence;
            copy.PrevHash = original.PrevHash;
            Assert.Equal(hash, AuditChain.ComputeHash(copy));
            mutate(copy);
            Assert.NotEqual(hash, AuditChain.ComputeHash(copy));
        }
    }

    [Fact]
    public void Null_and_empty_string_hash_differently()
    {
        var a = Row();
        a.Actor = null;
        var b = Row();
        b.EventId = a.EventId;
        b.Actor = "";
        Assert.NotEqual(AuditChain.ComputeHash(a), AuditChain.ComputeHash(b));
    }

    [Fact]
    public void A_linked_chain_verifies()
    {
        var verifier = new ChainVerifier(ChainHead.Empty);
        foreach (var row in Chain(50))
        {
            Assert.Null(verifier.Check(row));
        }
        Assert.Equal(50, verifier.Verified);
    }

    [Fact]
    public void An_altered_row_is_reported_as_a_hash_mismatch_at_its_sequence()
    {
        var rows = Chain(10);
        rows[6].Ip = "198.51.100.66";
        var broken = Walk(rows);
        Assert.Equal(new ChainBreak(7, rows[6].EventId, ChainBreakReasons.HashMismatch), broken);
    }

    [Fact]
    public void A_row_altered_and_rehashed_breaks_the_next_link()
    {
        var rows = Chain(10);
        rows[3].Subject = "attacker";
        rows[3].Hash = AuditChain.ComputeHash(rows[3]);
        var broken = Walk(rows);
        Assert.Equal(new ChainBreak(5, rows[4].EventId, ChainBreakReasons.PrevHashMismatch), broken);
    }

    [Fact]
    public void A_removed_row_is_a_sequence_gap()
    {
        var rows = Chain(10);
        rows.RemoveAt(4);
        Assert.Equal(new ChainBreak(6, rows[4].EventId, ChainBreakReasons.SequenceGap), Walk(rows));
    }

    [Fact]
    public void A_range_verifies_from_the_row_before_it()
    {
        var rows = Chain(10);
        var verifier = new ChainVerifier(new ChainHead(rows[4].Sequence, rows[4].Hash));
        Assert.All(rows.Skip(5), r => Assert.Null(verifier.Check(r)));
        Assert.Equal(5, verifier.Verified);
    }

    private static ChainBreak? Walk(IEnumerable<AuditEvent> rows)
    {
        var verifier = new ChainVerifier(ChainHead.Empty);
        return rows.Select(verifier.Check).FirstOrDefault(b => b is not null);
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(42L)]
    [InlineData(long.MaxValue)]
    public void A_cursor_round_trips(long sequence)
    {
        var cursor = AuditCursor.Encode(sequence);
        Assert.True(AuditCursor.TryDecode(cursor, out var decoded));
        Assert.Equal(sequence, decoded);
        Assert.DoesNotContain(sequence.ToString(System.Globalization.CultureInfo.InvariantCulture), cursor, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("AAAAAAAAAAAA")] // version 0
    [InlineData("AQAAAAAAAAAA")] // sequence 0
    [InlineData("Af__________")] // negative
    [InlineData("AQAAAAAAAAA!")]
    [InlineData("AQAAAAAAAAAqAA")]
    public void A_forged_or_damaged_cursor_is_refused(string cursor) => Assert.False(AuditCursor.TryDecode(cursor, out _));

    [Fact]
    public void Valid_filters_pass_with_defaults()
    {
        var (query, errors) = AuditQueryValidator.Validate("user-1", ["LoginSucceeded", "LoginFailed", "LoginSucceeded"], "2026-01-01T00:00:00Z", "2026-02-01", AuditCursor.Encode(9), null);
        Assert.Empty(errors.Fields);
        Assert.NotNull(query);
        Assert.Equal(["LoginSucceeded", "LoginFailed"], query.Types);
        Assert.Equal(AuditQueryValidator.DefaultLimit, query.Limit);
        Assert.Equal(9, query.BeforeSequence);
        Assert.Equal(new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero), query.To);
    }

    [Theory]
    [InlineData("limit", null, null, null, null, null, "0")]
    [InlineData("limit", null, null, null, null, null, "501")]
    [InlineData("limit", null, null, null, null, null, "ten")]
    [InlineData("limit", null, null, null, null, null, "-5")]
    [InlineData("type", null, "NoSuchEvent", null, null, null, null)]
    [InlineData("type", null, "loginsucceeded", null, null, null, null)]
    [InlineData("from", null, null, "yesterday", null, null, null)]
    [InlineData("from", null, null, "2026-01-01T00:00:00", null, null, null)] // no offset: ambiguous
    [InlineData("to", null, null, null, "2026-13-01", null, null)]
    [InlineData("to", null, null, "2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", null, null)]
    [InlineData("cursor", null, null, null, null, "not-a-cursor", null)]
    [InlineData("userId", "", null, null, null, null, null)]
    [InlineData("userId", "bad\nuser", null, null, null, null, null)]
    public void Each_bad_filter_is_refused_naming_its_field(string field, string? userId, string? type, string? from, string? to, string? cursor, string? limit)
    {
        var (query, errors) = AuditQueryValidator.Validate(userId, type is null ? null : [type], from, to, cursor, limit);
        Assert.Null(query);
        Assert.Equal([field], errors.Fields);
    }

    [Fact]
    public void An_overlong_user_id_is_refused() =>
        Assert.Contains("userId", AuditQueryValidator.Validate(new string('u', 201), null, null, null, null, null).Errors.Fields);

    [Theory]
    [InlineData(null, null, true)]
    [InlineData("5", "10", true)]
    [InlineData("0", null, false)]
    [InlineData("x", null, false)]
    [InlineData("10", "5", false)]
    [InlineData(null, "-1", false)]
    public void Verify_ranges_are_validated(string? from, string? to, bool valid) =>
        Assert.Equal(valid, AuditQueryValidator.ValidateRange(from, to).Errors.Any is false);

    [Fact]
    public void The_catalogue_has_every_contract_event()
    {
        var names = AuditEventTypes.Names.ToList();
        Assert.Contains("LoginSucceeded", names);
        Assert.Contains("AvatarUploaded", names);
        Assert.True(IntegrationEventCatalogue.All.Count >= 23);
        Assert.DoesNotContain("IntegrationEvent", names);
        Assert.All(AuditEventTypes.OwnSecurityActivity, t => Assert.Contains(t, names));
    }

    [Fact]
    public void An_event_maps_to_a_row_with_its_envelope_in_columns_and_typed_fields_in_the_payload()
    {
        var evt = new LoginSucceeded
        {
            SourceService = "auth-service", Actor = "u1", Subject = "u1", IpAddress = "203.0.113.7", UserAgent = "UA",
            CorrelationId = "abc", SessionId = "s1", ClientId = "spa", Amr = ["pwd", "otp"],
        };
        var row = AuditEntryFactory.Create(evt);
        Assert.Equal(evt.EventId, row.EventId);
        Assert.Equal("LoginSucceeded", row.Type);
        Assert.Equal("203.0.113.7", row.Ip);
        Assert.Equal("abc", row.CorrelationId);
        Assert.Equal("""{"amr":["pwd","otp"],"clientId":"spa","sessionId":"s1"}""", row.Payload);
    }

    [Fact]
    public void Without_a_stated_correlation_id_the_consumers_trace_id_is_recorded()
    {
        var trace = System.Diagnostics.ActivityTraceId.CreateRandom();
        var row = AuditEntryFactory.Create(new UserRegistered { Subject = "u1" }, trace);
        Assert.Equal(trace.ToHexString(), row.CorrelationId);
    }

    [Fact]
    public void Hostile_text_is_made_storable_and_cut_to_the_column()
    {
        var evt = new LoginFailed { UserAgent = "a\0b" + new string('x', 1000), IpAddress = "\uD800bad", Reason = "r\0" };
        var row = AuditEntryFactory.Create(evt);
        Assert.Equal(AuditLimits.UserAgent, row.UserAgent!.Length);
        Assert.StartsWith("a\uFFFDb", row.UserAgent, StringComparison.Ordinal);
        Assert.Equal("\uFFFDbad", row.Ip);
        Assert.DoesNotContain("\\u0000", row.Payload, StringComparison.Ordinal);
        Assert.True(Encoding.UTF8.GetByteCount(row.Payload) > 0);
    }

    [Fact]
    public void An_event_without_an_id_is_refused_as_poison() =>
        Assert.Throws<InvalidAuditEventException>(() => AuditEntryFactory.Create(new LoggedOut { EventId = Guid.Empty }));

    [Theory]
    [InlineData("user-1", "you")]
    [InlineData("0197a8e2-5b1c-7d3e-8f00-123456789abc", "an administrator")]
    [InlineData("platform-app", "the system")]
    [InlineData("auth-service", "the system")]
    [InlineData(null, "someone")]
    public void A_users_own_view_names_the_actor_by_role_and_shows_network_data_only_when_the_user_acted(string? actor, string role)
    {
        var row = Row();
        row.Actor = actor;
        var view = OwnActivity.Of(row, "user-1");
        Assert.Equal(role, view.ActorRole);
        Assert.Equal(role == "you", view.ByYou);
        Assert.Equal(role == "you" ? "203.0.113.7" : null, view.IpAddress);
        Assert.Equal(role == "you" ? row.UserAgent : null, view.UserAgent);
    }
}
