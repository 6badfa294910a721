using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using SecurePlatform.Audit.Infrastructure;
using SecurePlatform.Audit.Model;
using SecurePlatform.ServiceDefaults.Auth;

using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.Audit.Apis;

public static class AuditApi
{
    public const int MeDefaultLimit = 20;
    public const int MeMaxLimit = 100;

    public sealed record AuditEventResponse(
        long Sequence,
        Guid EventId,
        string Type,
        DateTimeOffset OccurredAt,
        DateTimeOffset RecordedAt,
        string? Actor,
        string? Subject,
        string SourceService,
        string? IpAddress,
        string? UserAgent,
        string? CorrelationId,
        JsonElement Payload,
        string Hash);

    public sealed record AuditPageResponse(IReadOnlyList<AuditEventResponse> Items, string? NextCursor);

    /// <summary>
    /// One entry of a user's own activity: what, when, who acted (as a role, see <see cref="OwnActivity"/>) and, when
    /// the user acted, from where; no internal identifiers and no one else's network data.
    /// </summary>
    public sealed record ActivityResponse(Guid EventId, string Type, DateTimeOffset OccurredAt, string ActorRole, bool ByYou, string? IpAddress, string? UserAgent, JsonElement Details);

    public sealed record ActivityPageResponse(IReadOnlyList<ActivityResponse> Items, string? NextCursor);

    public sealed record VerifyResponse(bool Verified, long Rows, long FromSequence, long ToSequence, long ElapsedMs, long? BrokenAtSequence, Guid? EventId, string? Reason);

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/audit").WithTags("Audit").RequireAuthorization(PlatformClaims.AdminPolicy);
        admin.MapGet("/events", QueryEventsAsync).WithName("QueryAuditEvents")
            .WithSummary("Audit events, newest first, filtered by user (subject), type (repeatable), time and cursor.")
            .ProducesValidationProblem();
        admin.MapGet("/events/{id}", GetEventAsync).WithName("GetAuditEvent").WithSummary("One audit event by its event id.")
            .ProducesValidationProblem();
        admin.MapGet("/verify", VerifyAsync).WithName("VerifyAuditChain")
            .WithSummary("Walks the hash chain (or the sequence range from..to) and reports the first broken link.")
            .ProducesValidationProblem();

        app.MapGet("/audit/me", GetMyActivityAsync).WithTags("Audit").RequireAuthorization().WithName("GetMyAuditActivity")
            .WithSummary("The caller's own recent security activity: sign-ins, credential and MFA changes, sessions.")
            .ProducesValidationProblem();
        return app;
    }

    internal static async Task<Results<Ok<AuditPageResponse>, ValidationProblem>> QueryEventsAsync(
        [FromQuery] string? userId, [FromQuery] string?[]? type, [FromQuery] string? from, [FromQuery] string? to,
        [FromQuery] string? cursor, [FromQuery] string? limit, AuditStore store, CancellationToken cancellationToken)
    {
        var (query, errors) = AuditQueryValidator.Validate(userId, type, from, to, cursor, limit);
        if (query is null)
        {
            return errors.ToResult();
        }
        var page = await store.QueryAsync(query, cancellationToken);
        return TypedResults.Ok(new AuditPageResponse(page.Items.Select(ToResponse).ToList(), page.NextCursor));
    }

    internal static async Task<Results<Ok<AuditEventResponse>, ProblemHttpResult, ValidationProblem>> GetEventAsync(
        string id, AuditStore store, CancellationToken cancellationToken)
    {
        if (!Guid.TryParseExact(id, "D", out var eventId))
        {
            return FieldErrors.One("id", "format", "must be an event id (a UUID)");
        }
        var row = await store.FindAsync(eventId, cancellationToken);
        return row is null
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not Found", detail: "No audit event has this id.")
            : TypedResults.Ok(ToResponse(row));
    }

    internal static async Task<Results<Ok<VerifyResponse>, ValidationProblem>> VerifyAsync(
        [FromQuery] string? from, [FromQuery] string? to, AuditStore store, CancellationToken cancellationToken)
    {
        var (fromValue, toValue, errors) = AuditQueryValidator.ValidateRange(from, to);
        if (errors.Any)
        {
            return errors.ToResult();
        }
        var report = await store.VerifyAsync(fromValue, toValue, cancellationToken);
        return TypedResults.Ok(new VerifyResponse(
            report.Verified, report.Rows, report.FromSequence, report.ToSequence, report.ElapsedMs,
            report.Break?.Sequence, report.Break is { EventId: var e } && e != Guid.Empty ? e : null, report.Break?.Reason));
    }

    internal static async Task<Results<Ok<ActivityPageResponse>, ValidationProblem>> GetMyActivityAsync(
        [FromQuery] string? cursor, [FromQuery] string? limit, ClaimsPrincipal user, AuditStore store, CancellationToken cancellationToken)
    {
        var sub = PlatformClaims.SubjectOf(user)!;
        var (query, errors) = AuditQueryValidator.Validate(null, null, null, null, cursor, limit, MeDefaultLimit, MeMaxLimit);
        if (query is null)
        {
            return errors.ToResult();
        }
        var page = await store.QueryAsync(query with { UserId = sub, Types = AuditEventTypes.OwnSecurityActivity }, cancellationToken);
        var items = page.Items
            .Select(e => (Row: e, View: OwnActivity.Of(e, sub)))
            .Select(e => new ActivityResponse(e.Row.EventId, e.Row.Type, e.Row.OccurredAt, e.View.ActorRole, e.View.ByYou, e.View.IpAddress, e.View.UserAgent, ParsePayload(e.Row.Payload)))
            .ToList();
        return TypedResults.Ok(new ActivityPageResponse(items, page.NextCursor));
    }

    private static AuditEventResponse ToResponse(AuditEvent e) => new(
        e.Sequence, e.EventId, e.Type, e.OccurredAt, e.RecordedAt, e.Actor, e.Subject, e.SourceService, e.Ip, e.UserAgent,
        e.CorrelationId, ParsePayload(e.Payload), Convert.ToHexStringLower(e.Hash));

    private static JsonElement ParsePayload(string payload)
    {
        using var document = JsonDocument.Parse(payload);
        return document.RootElement.Clone();
    }
}
