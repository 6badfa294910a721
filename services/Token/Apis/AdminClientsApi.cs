using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using OpenIddict.EntityFrameworkCore.Models;
using SecurePlatform.Contracts;
using SecurePlatform.Messaging;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.ServiceDefaults.Validation;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Model;
using SecurePlatform.Token.Services;
using static OpenIddict.Abstractions.OpenIddictConstants;
using Application = OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreApplication;

namespace SecurePlatform.Token.Apis;

/// <summary>What the admin clients API works with, resolved once per request.</summary>
public sealed class ClientAdministration(
    TokenDbContext db,
    IOpenIddictApplicationManager manager,
    IOpenIddictApplicationStore<Application> store,
    IOpenIddictApplicationCache<Application> cache,
    ClientSecretHasher hasher,
    SessionService sessions,
    IConfiguration configuration)
{
    public TokenDbContext Db => db;
    public IOpenIddictApplicationManager Manager => manager;
    public IOpenIddictApplicationStore<Application> Store => store;
    public ClientSecretHasher Hasher => hasher;
    public SessionService Sessions => sessions;
    public IConfiguration Configuration => configuration;

    /// <summary>
    /// This replica forgets its cached clients after the commit (the manager already did so before it, but a request
    /// in between could have cached the old row again); other replicas see the change when their entries expire.
    /// </summary>
    public ValueTask EvictAsync(Application application) => cache.RemoveAsync(application, CancellationToken.None);
}

/// <summary>
/// Third-party OAuth clients, for admins: register, list, read, change, delete, and rotate a confidential client's
/// secret. Clients registered by start-up from configuration (and the built-ins) are read-only here.
/// </summary>
public static class AdminClientsApi
{
    public sealed record ClientResponse(
        string ClientId, string DisplayName, string Type, IReadOnlyList<string> RedirectUris, IReadOnlyList<string> PostLogoutRedirectUris,
        IReadOnlyList<string> Scopes, bool RequireConsent, int SecretCount, string Source, bool Editable, bool RequirePushedAuthorization,
        string? BackchannelLogoutUri);

    /// <summary>A new client; <see cref="ClientSecret"/> (confidential clients) is shown this once and never again.</summary>
    public sealed record CreatedClientResponse(ClientResponse Client, string? ClientSecret);

    /// <summary>A secret added to a client, shown this once; <see cref="Index"/> names it for deletion.</summary>
    public sealed record SecretResponse(string ClientSecret, int Index, int SecretCount);

    public static IEndpointRouteBuilder MapAdminClientsApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/admin/clients").WithTags("Clients (admin)").RequireAuthorization(PlatformClaims.AdminPolicy)
            .WithRequestBodyLimit(64 * 1024).WithValidation(); // 2 × 10 URIs of 2000 characters fit
        admin.MapPost("/", CreateAsync).WithName("RegisterClient").WithSummary("Registers a third-party client; a confidential client's secret is in the answer, once.");
        admin.MapGet("/", ListAsync).WithName("ListClients").WithSummary("Every registered client (no secrets).");
        admin.MapGet("/{clientId}", GetAsync).WithName("GetClient").WithSummary("One client (no secrets).");
        admin.MapPut("/{clientId}", UpdateAsync).WithName("UpdateClient").WithSummary("Replaces a client's settings (not its id, type or secrets).");
        admin.MapDelete("/{clientId}", DeleteAsync).WithName("DeleteClient").WithSummary("Deletes a client, revokes its sessions and forgets its users' consents.");
        admin.MapPost("/{clientId}/secrets", AddSecretAsync).WithName("AddClientSecret").WithSummary("Adds a second secret (shown once) so the client can rotate without downtime.");
        admin.MapDelete("/{clientId}/secrets/{index:int}", RemoveSecretAsync).WithName("RemoveClientSecret").WithSummary("Withdraws one secret (0 = oldest); the last one cannot be removed.");
        return app;
    }

    internal static async Task<Results<Created<CreatedClientResponse>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        ClientRequest request, ClientAdministration clients, ClaimsPrincipal user, HttpContext http, CancellationToken cancellationToken)
    {
        var problems = ClientRegistrationRules.ForCreate(request);
        if (problems.Any)
        {
            return problems.ToResult();
        }
        var clientId = request.ClientId!;
        if (ClientRegistrations.IsConfigured(clients.Configuration, clientId) || await clients.Store.FindByClientIdAsync(clientId, cancellationToken) is not null)
        {
            return Conflict("A client with this id exists.", "Choose another client id.");
        }
        var secret = request.Type == ClientRegistrationRules.Confidential ? ClientSecretHasher.NewSecret() : null;
        var descriptor = ClientRegistrations.Describe(clientId, Settings(request, secret));
        descriptor.Properties[ClientRegistrations.SourceProperty] = JsonSerializer.SerializeToElement(ClientRegistrations.FromAdminApi);

        Application application;
        await using (var transaction = await clients.Db.Database.BeginTransactionAsync(cancellationToken))
        {
            try
            {
                application = (Application)await clients.Manager.CreateAsync(descriptor, cancellationToken);
            }
            catch (DbUpdateException)
            {
                return Conflict("A client with this id exists.", "Choose another client id."); // a concurrent registration won
            }
            clients.Db.AddIntegrationEvent(new ClientRegistered { ClientId = clientId, After = Summary(application) }
                .Stamp(SessionService.SourceService, http, PlatformClaims.SubjectOf(user), subject: null));
            await clients.Db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        await AfterCommitAsync(clients, application, []);
        return TypedResults.Created($"/admin/clients/{clientId}", new CreatedClientResponse(Response(application, clients.Configuration), secret));
    }

    internal static async Task<Ok<List<ClientResponse>>> ListAsync(ClientAdministration clients, CancellationToken cancellationToken)
    {
        var applications = await clients.Db.Set<Application>().AsNoTracking().OrderBy(a => a.ClientId).ToListAsync(cancellationToken);
        return TypedResults.Ok(applications.Select(a => Response(a, clients.Configuration)).ToList());
    }

    internal static async Task<Results<Ok<ClientResponse>, ProblemHttpResult>> GetAsync(string clientId, ClientAdministration clients, CancellationToken cancellationToken)
        => await FindAsync(clients, clientId, cancellationToken) is { } application
            ? TypedResults.Ok(Response(application, clients.Configuration))
            : NotFound();

    internal static async Task<Results<Ok<ClientResponse>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        string clientId, ClientRequest request, ClientAdministration clients, ClaimsPrincipal user, HttpContext http, CancellationToken cancellationToken)
    {
        if (ReadOnly(clients, clientId) is { } refused)
        {
            return refused;
        }
        if (await FindAsync(clients, clientId, cancellationToken) is not { } application)
        {
            return NotFound();
        }
        var type = TypeOf(application);
        var problems = ClientRegistrationRules.ForUpdate(clientId, type, request);
        if (problems.Any)
        {
            return problems.ToResult();
        }
        var before = Summary(application);
        var storedSecret = application.ClientSecret;
        // The descriptor of the same settings as a new registration; the stored secret hashes stay as they are.
        var descriptor = ClientRegistrations.Describe(clientId, Settings(request, type == ClientRegistrationRules.Confidential ? "unchanged" : null));
        descriptor.ClientSecret = null;
        descriptor.Properties[ClientRegistrations.SourceProperty] = JsonSerializer.SerializeToElement(ClientRegistrations.FromAdminApi);
        await clients.Manager.PopulateAsync(application, descriptor, cancellationToken);
        await clients.Store.SetClientSecretAsync(application, storedSecret, cancellationToken);
        return await SaveAsync(clients, application, ClientUpdated.Settings, before, user, http, cancellationToken) is { } conflict
            ? conflict
            : TypedResults.Ok(Response(application, clients.Configuration));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        string clientId, ClientAdministration clients, ClaimsPrincipal user, HttpContext http, CancellationToken cancellationToken)
    {
        if (ReadOnly(clients, clientId) is { } refused)
        {
            return refused;
        }
        if (await FindAsync(clients, clientId, cancellationToken) is not { } application)
        {
            return NotFound();
        }
        var actor = PlatformClaims.SubjectOf(user);
        List<string> revoked;
        await using (var transaction = await clients.Db.Database.BeginTransactionAsync(cancellationToken))
        {
            revoked = await clients.Sessions.MarkClientSessionsRevokedAsync(clientId, subject: null, RevocationReasons.ClientDeleted, http, actor ?? "admin", cancellationToken);
            // A client registered later under the same id must not inherit these users' consent.
            var grants = await clients.Db.Grants.Where(g => g.ClientId == clientId).ExecuteDeleteAsync(cancellationToken);
            clients.Db.AddIntegrationEvent(new ClientDeleted { ClientId = clientId, Before = Summary(application), SessionsRevoked = revoked.Count, GrantsDeleted = grants }
                .Stamp(SessionService.SourceService, http, actor, subject: null));
            await clients.Db.SaveChangesAsync(cancellationToken);
            await clients.Manager.DeleteAsync(application, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        await AfterCommitAsync(clients, application, revoked);
        return TypedResults.NoContent();
    }

    internal static async Task<Results<Ok<SecretResponse>, ProblemHttpResult>> AddSecretAsync(
        string clientId, ClientAdministration clients, ClaimsPrincipal user, HttpContext http, CancellationToken cancellationToken)
    {
        if (ReadOnly(clients, clientId) is { } refused)
        {
            return refused;
        }
        if (await FindAsync(clients, clientId, cancellationToken) is not { } application)
        {
            return NotFound();
        }
        if (TypeOf(application) != ClientRegistrationRules.Confidential)
        {
            return Conflict("A public client has no secrets.", "Only confidential clients authenticate with a secret.");
        }
        var count = ClientRegistrationRules.SecretCount(application.ClientSecret);
        if (count >= 2)
        {
            return Conflict("The client already has two secrets.", "Delete the one the client no longer uses first.");
        }
        var before = Summary(application);
        var secret = ClientSecretHasher.NewSecret();
        await clients.Store.SetClientSecretAsync(application, (application.ClientSecret + " " + clients.Hasher.Hash(secret)).Trim(), cancellationToken);
        return await SaveAsync(clients, application, ClientUpdated.SecretAdded, before, user, http, cancellationToken) is { } conflict
            ? conflict
            : TypedResults.Ok(new SecretResponse(secret, count, count + 1));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> RemoveSecretAsync(
        string clientId, int index, ClientAdministration clients, ClaimsPrincipal user, HttpContext http, CancellationToken cancellationToken)
    {
        if (ReadOnly(clients, clientId) is { } refused)
        {
            return refused;
        }
        if (await FindAsync(clients, clientId, cancellationToken) is not { } application)
        {
            return NotFound();
        }
        if (ClientRegistrationRules.WithoutSecret(application.ClientSecret ?? "", index) is not { } remaining)
        {
            return NotFound("No such secret.");
        }
        if (remaining.Length == 0)
        {
            return Conflict("This is the client's only secret.", "Add a new secret first; a confidential client always has one.");
        }
        var before = Summary(application);
        await clients.Store.SetClientSecretAsync(application, remaining, cancellationToken);
        return await SaveAsync(clients, application, ClientUpdated.SecretRemoved, before, user, http, cancellationToken) is { } conflict
            ? conflict
            : TypedResults.NoContent();
    }

    /// <summary>Saves a changed client and its <see cref="ClientUpdated"/> event in one transaction; a problem when someone changed it meanwhile.</summary>
    private static async Task<ProblemHttpResult?> SaveAsync(
        ClientAdministration clients, Application application, string change, ClientSummary before, ClaimsPrincipal user, HttpContext http, CancellationToken cancellationToken)
    {
        await using (var transaction = await clients.Db.Database.BeginTransactionAsync(cancellationToken))
        {
            try
            {
                await clients.Manager.UpdateAsync(application, cancellationToken);
            }
            catch (OpenIddictExceptions.ConcurrencyException)
            {
                return Conflict("The client was changed at the same time.", "Read it again and retry.");
            }
            clients.Db.AddIntegrationEvent(new ClientUpdated { ClientId = application.ClientId ?? "", Change = change, Before = before, After = Summary(application) }
                .Stamp(SessionService.SourceService, http, PlatformClaims.SubjectOf(user), subject: null));
            await clients.Db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        await AfterCommitAsync(clients, application, []);
        return null;
    }

    private static async Task AfterCommitAsync(ClientAdministration clients, Application application, List<string> revokedSessions)
    {
        await clients.EvictAsync(application);
        await clients.Sessions.DeliverRevocationsAsync(revokedSessions);
    }

    /// <summary>Tracked, from the store (the manager may answer with a cached, detached copy).</summary>
    private static async Task<Application?> FindAsync(ClientAdministration clients, string clientId, CancellationToken cancellationToken)
        => ClientRegistrationRules.ClientIdProblem(clientId) is null && !clientId.Contains(' ', StringComparison.Ordinal)
            ? await clients.Store.FindByClientIdAsync(clientId, cancellationToken)
            : null;

    private static ProblemHttpResult? ReadOnly(ClientAdministration clients, string clientId) =>
        ClientRegistrations.BuiltIn.Contains(clientId)
            ? TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Built-in clients cannot be changed or deleted.",
                detail: "The platform's own clients are defined by token-service.")
            : ClientRegistrations.IsConfigured(clients.Configuration, clientId)
                ? Conflict("This client is registered from configuration.", $"Change Clients:{clientId} in the configuration instead: start-up re-applies it.")
                : null;

    private static ProblemHttpResult Conflict(string title, string detail) => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: title, detail: detail);

    private static ProblemHttpResult NotFound(string title = "No such client.") => TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: title);

    /// <summary>The request as the settings clients from configuration have, so both are described by the same code.</summary>
    private static ClientSettings Settings(ClientRequest request, string? secret) => new()
    {
        Secret = secret,
        DisplayName = request.DisplayName,
        RedirectUris = [.. request.RedirectUris ?? []],
        PostLogoutRedirectUris = [.. request.PostLogoutRedirectUris ?? []],
        Scopes = request.Scopes?.Where(s => s != Scopes.OpenId).Distinct(StringComparer.Ordinal).ToList(),
        RequireConsent = request.RequireConsent ?? true,
        RequirePushedAuthorization = request.RequirePushedAuthorization ?? false,
        BackchannelLogoutUri = request.BackchannelLogoutUri,
    };

    private static string TypeOf(Application application)
        => application.ClientType == ClientTypes.Confidential ? ClientRegistrationRules.Confidential : ClientRegistrationRules.Public;

    /// <summary>What the audit trail records before and after a change: never a secret or its hash, only how many.</summary>
    internal static ClientSummary Summary(Application application) => new()
    {
        ClientId = application.ClientId ?? "",
        DisplayName = application.DisplayName ?? "",
        ClientType = TypeOf(application),
        RedirectUris = Strings(application.RedirectUris),
        PostLogoutRedirectUris = Strings(application.PostLogoutRedirectUris),
        Scopes = ScopesOf(application),
        RequireConsent = application.ConsentType == ConsentTypes.Explicit,
        RequirePushedAuthorization = Strings(application.Requirements).Contains(Requirements.Features.PushedAuthorizationRequests),
        SecretCount = ClientRegistrationRules.SecretCount(application.ClientSecret),
        BackchannelLogoutUri = Properties(application.Properties).TryGetValue(BackchannelLogout.UriProperty, out var logoutUri) && logoutUri.ValueKind == JsonValueKind.String
            ? logoutUri.GetString()
            : null,
    };

    private static ClientResponse Response(Application application, IConfiguration configuration)
    {
        var summary = Summary(application);
        var configured = ClientRegistrations.IsConfigured(configuration, summary.ClientId);
        var source = Properties(application.Properties).TryGetValue(ClientRegistrations.SourceProperty, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : configured ? ClientRegistrations.FromConfiguration : ClientRegistrations.FromAdminApi;
        return new ClientResponse(summary.ClientId, summary.DisplayName, summary.ClientType, summary.RedirectUris, summary.PostLogoutRedirectUris,
            summary.Scopes, summary.RequireConsent, summary.SecretCount, source, Editable: !configured, summary.RequirePushedAuthorization,
            summary.BackchannelLogoutUri);
    }

    private static List<string> ScopesOf(Application application) =>
        [.. Strings(application.Permissions)
            .Where(p => p.StartsWith(Permissions.Prefixes.Scope, StringComparison.Ordinal))
            .Select(p => p[Permissions.Prefixes.Scope.Length..])
            .Where(s => s != Scopes.OpenId)
            .Order(StringComparer.Ordinal)];

    private static List<string> Strings(string? json) =>
        string.IsNullOrEmpty(json) ? [] : JsonSerializer.Deserialize<List<string>>(json) ?? [];

    private static Dictionary<string, JsonElement> Properties(string? json) =>
        string.IsNullOrEmpty(json) ? [] : JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json) ?? [];
}
