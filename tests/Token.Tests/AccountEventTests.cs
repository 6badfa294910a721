using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.TestSupport;
using SecurePlatform.Token.Model;

namespace SecurePlatform.Token.Tests;

/// <summary>Account changes published by other services (inside outbox batches) end sessions here.</summary>
public class AccountEventTests
{
    private static string NewUser() => "user-" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task Reactions_inside_a_batch_revoke_sessions_once_and_the_batchs_other_events_are_skipped()
    {
        // A queue of its own: other token-service hosts of this run consume the default one.
        await using var token = new TokenServiceFactory("accountevents", new() { ["Messaging:Events:QueueName"] = $"token-events-{Guid.NewGuid():N}" });
        var changer = NewUser();
        var kept = await token.SignInAsync(changer);
        var other = await token.SignInAsync(changer);
        var disabled = NewUser();
        var disabledSession = await token.SignInAsync(disabled);
        var bystander = NewUser();
        var bystanderSession = await token.SignInAsync(bystander);
        await token.WaitForBusAsync();
        var bus = token.Services.GetRequiredService<IBusControl>();

        var passwordChanged = new PasswordChanged { Subject = changer, Actor = changer, SourceService = "auth-service", KeptSessionId = kept.Sid };
        var userDisabled = new UserDisabled { Subject = disabled, Actor = "admin", SourceService = "auth-service" };
        var batch = OutboxBatch.ToMessage([
            OutboxMessage.From(new LoginSucceeded { Subject = bystander, Actor = bystander, SourceService = "auth-service", SessionId = bystanderSession.Sid }),
            OutboxMessage.From(passwordChanged),
            OutboxMessage.From(new SessionRevoked { Subject = bystander, SourceService = "token-service", SessionId = bystanderSession.Sid, Reason = RevocationReasons.Logout }),
            OutboxMessage.From(userDisabled),
        ]);

        await bus.Publish(batch);
        await bus.Publish(batch); // redelivered, as after a dispatcher crash between confirm and commit

        Session Of(string sid) => token.WithDb(db => db.Sessions.AsNoTracking().Single(s => s.Id == Guid.Parse(sid)));
        await Eventually.HoldsAsync(
            () => Task.FromResult(Of(other.Sid).RevokedReason == RevocationReasons.PasswordChanged && Of(disabledSession.Sid).RevokedReason == RevocationReasons.UserDisabled),
            TimeSpan.FromSeconds(30), "sessions revoked by the batch's PasswordChanged and UserDisabled");
        await Eventually.HoldsAsync(
            () => Task.FromResult(token.WithDb(db => db.Set<ProcessedEvent>().Count(p => p.EventId == passwordChanged.EventId || p.EventId == userDisabled.EventId)) == 2),
            TimeSpan.FromSeconds(10), "both reactions recorded as processed");
        await Task.Delay(1000); // the second copy, were it to act again, would have by now

        Assert.Null(Of(kept.Sid).RevokedAt);
        Assert.Null(Of(bystanderSession.Sid).RevokedAt); // LoginSucceeded and SessionRevoked are not token-service's to react to
        Assert.Equal(2, token.WithDb(db => db.Set<ProcessedEvent>().Count(p => p.EventId == passwordChanged.EventId || p.EventId == userDisabled.EventId)));
        var revokedEvents = token.WithDb(db => db.Set<OutboxMessage>().AsNoTracking().Where(m => m.Type == typeof(AllSessionsRevoked).FullName).ToList())
            .Select(m => System.Text.Json.JsonSerializer.Deserialize<AllSessionsRevoked>(m.Payload, System.Text.Json.JsonSerializerOptions.Web)!)
            .Where(e => e.Subject == changer || e.Subject == disabled)
            .ToList();
        Assert.Equal(2, revokedEvents.Count); // one per reaction, not one per delivery
    }
}
