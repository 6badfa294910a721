using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Client.AspNetCore;
using SecurePlatform.Contracts;
using SecurePlatform.Token.Apis;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Model;
using SecurePlatform.Token.Services;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace SecurePlatform.Token.Pages.Account;

/// <summary>
/// The signed-in user's security page: where they are signed in (end one session, or all but this browser's), the
/// applications they let in (revoke a grant), their external sign-ins (link, unlink) and short advice. It acts through
/// the same services as the JSON routes (<see cref="SessionsApi"/>, <see cref="GrantsApi"/>), so the events and
/// revocation are the same.
/// </summary>
[Authorize(AuthenticationSchemes = HostedSignIn.Scheme)]
public sealed class SecurityModel(
    SessionService sessions, TokenDbContext db, AuthServiceClient auth, IReadOnlyDictionary<string, ExternalProviderSettings> providers) : PageModel
{
    public List<SessionsApi.SessionResponse> Sessions { get; private set; } = [];

    public List<GrantsApi.GrantResponse> Grants { get; private set; } = [];

    public AuthServiceClient.LinkedLogins? Logins { get; private set; }

    /// <summary>Providers configured here that this account has not linked yet.</summary>
    public IEnumerable<(string Name, string DisplayName)> Linkable =>
        providers.Where(p => Logins is not null && !Logins.Logins.Any(l => string.Equals(l.Provider, p.Key, StringComparison.OrdinalIgnoreCase)))
            .Select(p => (p.Key, p.Value.DisplayName ?? p.Key));

    public string DisplayName(string provider) => providers.TryGetValue(provider, out var settings) ? settings.DisplayName ?? provider : provider;

    public string? Message { get; private set; }

    private string Subject => User.FindFirstValue(Claims.Subject)!;

    private Guid? BrowserSession => Guid.TryParse(User.FindFirstValue(HostedSignIn.Claims.BrowserSession), out var id) ? id : null;

    public async Task<IActionResult> OnGetAsync(string? done, CancellationToken cancellationToken)
    {
        Message = done switch
        {
            "session" => "The session was ended.",
            "others" => "Every other session was ended.",
            "grant" => "The application's access was removed.",
            "unlinked" => "The sign-in method was removed.",
            "kept" => "That sign-in method is your account's only one, so it was kept. Link another provider first.",
            _ => null,
        };
        await LoadAsync(cancellationToken);
        return Page();
    }

    public async Task<IActionResult> OnPostRevokeSessionAsync(Guid sid, CancellationToken cancellationToken)
    {
        await sessions.RevokeAsync(sid, RevocationReasons.UserRequest, Subject, HttpContext, Subject, cancellationToken);
        return RedirectToPage(new { done = "session" });
    }

    /// <summary>Every session not opened from this browser's sign-in.</summary>
    public async Task<IActionResult> OnPostRevokeOthersAsync(CancellationToken cancellationToken)
    {
        var current = BrowserSession;
        foreach (var session in await sessions.ListActiveAsync(Subject, cancellationToken))
        {
            if (current is null || session.BrowserSessionId != current)
            {
                await sessions.RevokeAsync(session.Id, RevocationReasons.UserRequest, Subject, HttpContext, Subject, cancellationToken);
            }
        }
        return RedirectToPage(new { done = "others" });
    }

    public async Task<IActionResult> OnPostRevokeGrantAsync(Guid id, CancellationToken cancellationToken)
    {
        await GrantsApi.RevokeAsync(id, User, HttpContext, db, sessions, cancellationToken);
        return RedirectToPage(new { done = "grant" });
    }

    public async Task<IActionResult> OnPostUnlinkAsync(string provider, CancellationToken cancellationToken) =>
        RedirectToPage(new { done = await auth.UnlinkAsync(Subject, provider, HttpContext, cancellationToken) ? "unlinked" : "kept" });

    /// <summary>Links a provider to this account: the provider's sign-in, back to the callback, which checks it is still this user.</summary>
    public IActionResult OnPostLink(string provider)
    {
        if (!providers.ContainsKey(provider))
        {
            return RedirectToPage();
        }
        var properties = new AuthenticationProperties(new Dictionary<string, string?>
        {
            [OpenIddictClientAspNetCoreConstants.Properties.ProviderName] = providers.Keys.First(k => string.Equals(k, provider, StringComparison.OrdinalIgnoreCase)),
            [ExternalProviders.LinkProperty] = Subject,
        })
        { RedirectUri = HostedSignIn.SecurityPath };
        return Challenge(properties, OpenIddictClientAspNetCoreDefaults.AuthenticationScheme);
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        HttpContext.Items[PageSecurityPolicy.FormTargetItem] = providers.Select(p => ExternalProviders.AuthorizationOrigin(p.Key, p.Value)).OfType<Uri>().ToList();
        var current = BrowserSession;
        Sessions = [.. (await sessions.ListActiveAsync(Subject, cancellationToken)).Select(s => new SessionsApi.SessionResponse(
            s.Id.ToString(), s.CreatedAt, s.LastUsedAt, s.ExpiresAt, s.ClientId, s.IpAddress, s.UserAgent, current is not null && s.BrowserSessionId == current))];
        Grants = (await GrantsApi.ListAsync(User, db, cancellationToken)).Value!;
        Logins = await auth.LinkedLoginsAsync(Subject, HttpContext, cancellationToken);
    }
}
