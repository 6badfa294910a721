using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Model;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace SecurePlatform.Token.Pages.Account;

/// <summary>
/// Consent for a third-party client: its name and the scopes in plain words. The decision is remembered per user,
/// client and scope set. The form carries a ticket that binds it to what was shown (user, client, scopes), so a
/// decision cannot be replayed onto another client's request.
/// </summary>
public sealed class ConsentModel(IOpenIddictApplicationManager applications, TokenDbContext db, IDataProtectionProvider protection, TimeProvider clock) : PageModel
{
    private static readonly TimeSpan TicketLifetime = TimeSpan.FromMinutes(10);

    public static readonly IReadOnlyDictionary<string, string> ScopeDescriptions = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [Scopes.OpenId] = "Know who you are (your account identifier)",
        [Scopes.Profile] = "See your profile",
        [Scopes.Email] = "See your email address",
        [Scopes.OfflineAccess] = "Stay signed in when you are not using it",
        [ClientRegistrations.ApiScope] = "Use SecurePlatform's services on your behalf",
    };

    [BindProperty(SupportsGet = true, Name = "returnUrl")]
    public string? ReturnUrl { get; set; }

    [BindProperty]
    public string? Ticket { get; set; }

    [BindProperty]
    public string? Decision { get; set; }

    public string ClientName { get; private set; } = "";

    public IReadOnlyList<string> Requested { get; private set; } = [];

    private ITimeLimitedDataProtector Tickets => protection.CreateProtector("SecurePlatform.Token.Consent.v1").ToTimeLimitedDataProtector();

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        var (user, client, scopes) = await ReadAsync(cancellationToken);
        if (client is null)
        {
            return RedirectToPage("Error", new { error = "invalid_request" });
        }
        if (user is null)
        {
            return Redirect($"{HostedSignIn.LoginPath}?returnUrl={Uri.EscapeDataString(ReturnUrl!)}");
        }
        Ticket = Tickets.Protect(TicketText(user, client.Value.ClientId, scopes), TicketLifetime);
        return Page();
    }

    public async Task<IActionResult> OnPostAsync(CancellationToken cancellationToken)
    {
        var (user, client, scopes) = await ReadAsync(cancellationToken);
        if (client is null || user is null || !TicketMatches(user, client.Value.ClientId, scopes))
        {
            return RedirectToPage("Error", new { error = "consent_mismatch" });
        }
        if (Decision != "allow")
        {
            return LocalRedirect(ReturnUrl + "&" + HostedSignIn.DeniedFlag + "=1");
        }
        var subject = user.FindFirstValue(Claims.Subject)!;
        var grant = await db.Grants.FirstOrDefaultAsync(g => g.Subject == subject && g.ClientId == client.Value.ClientId, cancellationToken);
        if (grant is null)
        {
            db.Grants.Add(new Grant { Id = Guid.CreateVersion7(), Subject = subject, ClientId = client.Value.ClientId, Scopes = [.. scopes], CreatedAt = clock.GetUtcNow() });
        }
        else
        {
            grant.Scopes = [.. grant.Scopes.Union(scopes, StringComparer.Ordinal)];
        }
        await db.SaveChangesAsync(cancellationToken);
        return LocalRedirect(ReturnUrl!);
    }

    private async Task<(ClaimsPrincipal? User, (string ClientId, string Name)? Client, IReadOnlyList<string> Scopes)> ReadAsync(CancellationToken cancellationToken)
    {
        if (!HostedSignIn.IsReturnUrl(ReturnUrl) || !ReturnUrl!.StartsWith(HostedSignIn.AuthorizePath, StringComparison.Ordinal))
        {
            return (null, null, []);
        }
        HttpContext.Items[PageSecurityPolicy.FormTargetItem] = LoginModel.RedirectTarget(ReturnUrl);
        var parameters = HostedSignIn.Parameters(ReturnUrl);
        var clientId = parameters.GetValueOrDefault(Parameters.ClientId);
        var application = clientId is null ? null : await applications.FindByClientIdAsync(clientId, cancellationToken);
        if (application is null)
        {
            return (null, null, []);
        }
        ClientName = await applications.GetDisplayNameAsync(application, cancellationToken) ?? clientId!;
        Requested = (parameters.GetValueOrDefault(Parameters.Scope) ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var user = (await HttpContext.AuthenticateAsync(HostedSignIn.Scheme)).Principal;
        return (user, (clientId!, ClientName), Requested);
    }

    private static string TicketText(ClaimsPrincipal user, string clientId, IEnumerable<string> scopes) =>
        $"{user.FindFirstValue(Claims.Subject)}\n{user.FindFirstValue(HostedSignIn.Claims.BrowserSession)}\n{clientId}\n{string.Join(' ', scopes)}";

    private bool TicketMatches(ClaimsPrincipal user, string clientId, IEnumerable<string> scopes)
    {
        try
        {
            return Ticket is not null && Tickets.Unprotect(Ticket) == TicketText(user, clientId, scopes);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return false;
        }
    }
}
