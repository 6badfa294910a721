using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.Token.Model;

/// <summary>
/// What an admin sends to register or change a third-party client (<c>POST/PUT /admin/clients</c>). Unknown members
/// are refused (400, the platform's strict JSON), so a setting this API does not have (a misspelt name) is never
/// silently dropped while the admin believes it applies.
/// </summary>
public sealed record ClientRequest(
    string? ClientId,
    string? DisplayName,
    string? Type,
    List<string>? RedirectUris,
    List<string>? PostLogoutRedirectUris,
    List<string>? Scopes,
    bool? RequireConsent,
    bool? RequirePushedAuthorization = null,
    string? BackchannelLogoutUri = null);

/// <summary>
/// The rules for a client registered through the admin API, each problem keyed by the JSON field it concerns
/// (<c>redirectUris[1]</c>) with a rule code, so the 400 names both (the platform's <see cref="FieldErrors"/>). Not a
/// request validator: a change is checked against the stored client's type, which only the handler knows. Redirect URIs follow <see cref="RedirectUriRules"/>, the same
/// rules as clients from configuration; scopes must be ones this platform issues.
/// </summary>
public static class ClientRegistrationRules
{
    public const string Public = "public";
    public const string Confidential = "confidential";
    public const int MaxUris = 10;
    public const int MaxClientIdLength = 100;
    public const int MaxDisplayNameLength = 200;

    /// <summary>Scopes a client may be allowed besides <c>openid</c> (which every code-flow client gets).</summary>
    public static readonly IReadOnlyList<string> KnownScopes = ["profile", "email", "offline_access", "api"];

    /// <summary>Problems of a new registration (every field is checked, including the id and the type).</summary>
    public static FieldErrors ForCreate(ClientRequest request)
    {
        var problems = new FieldErrors();
        if (ClientIdProblem(request.ClientId) is { } id)
        {
            problems.Add("clientId", id.Rule, id.Message);
        }
        if (request.Type is not (Public or Confidential))
        {
            problems.Add("type", "enum", "Must be 'public' or 'confidential'.");
        }
        Common(request, request.Type, problems);
        return problems;
    }

    /// <summary>Problems of a change to client <paramref name="clientId"/> of type <paramref name="currentType"/>: id and type cannot change.</summary>
    public static FieldErrors ForUpdate(string clientId, string currentType, ClientRequest request)
    {
        var problems = new FieldErrors();
        if (request.ClientId is not null && request.ClientId != clientId)
        {
            problems.Add("clientId", "immutable", "Cannot be changed (it is the one in the path); register a new client instead.");
        }
        if (request.Type is not null && request.Type != currentType)
        {
            problems.Add("type", "immutable", $"Cannot be changed (it is '{currentType}'); register a new client instead.");
        }
        Common(request, currentType, problems);
        return problems;
    }

    public static (string Rule, string Message)? ClientIdProblem(string? clientId) => clientId switch
    {
        null or "" => ("required", "Is required."),
        { Length: > MaxClientIdLength } => ("maxLength", $"Is longer than {MaxClientIdLength} characters."),
        _ when !clientId.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_' or '.') || !char.IsAsciiLetterOrDigit(clientId[0])
            => ("format", "Must start with a lower-case letter or digit and contain only lower-case letters, digits, '-', '_' and '.'."),
        _ => null,
    };

    private static void Common(ClientRequest request, string? type, FieldErrors problems)
    {
        if (string.IsNullOrWhiteSpace(request.DisplayName))
        {
            problems.Add("displayName", "required", "Is required (users see it on the consent page).");
        }
        else if (request.DisplayName.Length > MaxDisplayNameLength)
        {
            problems.Add("displayName", "maxLength", $"Is longer than {MaxDisplayNameLength} characters.");
        }
        else if (request.DisplayName.Any(char.IsControl) || request.DisplayName.Trim() != request.DisplayName)
        {
            problems.Add("displayName", "controlCharacter", "Has control characters or leading or trailing spaces.");
        }
        Uris("redirectUris", request.RedirectUris, problems);
        Uris("postLogoutRedirectUris", request.PostLogoutRedirectUris, problems);
        if (type == Public && (request.RedirectUris ?? []).Count == 0)
        {
            AddOnce(problems, "redirectUris", "required", "A public client signs users in through the code flow, so it needs at least one redirect URI.");
        }
        if ((request.RedirectUris ?? []).Count == 0 && (request.PostLogoutRedirectUris ?? []).Count > 0)
        {
            AddOnce(problems, "postLogoutRedirectUris", "codeFlowOnly", "Only a client with redirect URIs (the code flow) signs users out through end-session.");
        }
        if (request.BackchannelLogoutUri is { } logoutUri)
        {
            if (BackchannelLogout.UriProblem(logoutUri) is { } logoutProblem)
            {
                problems.Add("backchannelLogoutUri", "uri", $"'{Clip(logoutUri)}' {logoutProblem}.");
            }
            else if ((request.RedirectUris ?? []).Count == 0)
            {
                problems.Add("backchannelLogoutUri", "codeFlowOnly", "Only a client with redirect URIs (the code flow) has sessions to log out of.");
            }
        }
        var scopes = request.Scopes ?? [];
        for (var i = 0; i < scopes.Count; i++)
        {
            if (scopes[i] != "openid" && !KnownScopes.Contains(scopes[i], StringComparer.Ordinal))
            {
                problems.Add($"scopes[{i}]", "unknownScope", $"'{Clip(scopes[i])}' is not a scope of this platform (openid, {string.Join(", ", KnownScopes)}).");
            }
        }
        if (scopes.Count > 20)
        {
            problems.Add("scopes", "maxItems", "Has more than 20 entries.");
        }
    }

    private static void Uris(string field, List<string>? uris, FieldErrors problems)
    {
        if (uris is null)
        {
            return;
        }
        if (uris.Count > MaxUris)
        {
            problems.Add(field, "maxItems", $"Has more than {MaxUris} entries.");
            return;
        }
        for (var i = 0; i < uris.Count; i++)
        {
            if (uris[i] is null)
            {
                problems.Add($"{field}[{i}]", "required", "Is missing.");
            }
            else if (RedirectUriRules.Problem(uris[i]) is { } problem)
            {
                problems.Add($"{field}[{i}]", "redirectUri", $"'{Clip(uris[i])}' {problem}.");
            }
            else if (uris.IndexOf(uris[i]) != i)
            {
                problems.Add($"{field}[{i}]", "duplicate", "Is listed twice.");
            }
        }
    }

    private static void AddOnce(FieldErrors problems, string field, string rule, string message)
    {
        if (problems.RulesOf(field).Count == 0)
        {
            problems.Add(field, rule, message);
        }
    }

    private static string Clip(string value) => value.Length <= 100 ? value : value[..100] + "…";

    /// <summary>The stored secret hashes (space-separated entries) without entry <paramref name="index"/>; null when there is no such entry.</summary>
    public static string? WithoutSecret(string stored, int index)
    {
        var entries = stored.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (index < 0 || index >= entries.Count)
        {
            return null;
        }
        entries.RemoveAt(index);
        return string.Join(' ', entries);
    }

    public static int SecretCount(string? stored) => stored?.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length ?? 0;
}
