using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using SecurePlatform.Token.Apis;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Model;
using SecurePlatform.Token.Services;

namespace SecurePlatform.Token.Pages.Account;

/// <summary>
/// Sign-out confirmation, for an end-session request that cannot prove it comes from the user's own client (no
/// matching id_token_hint): the user decides; a cross-site request alone signs no one out.
/// </summary>
public sealed class LogoutModel(SessionService sessions) : PageModel
{
    [BindProperty(SupportsGet = true, Name = "returnUrl")]
    public string? ReturnUrl { get; set; }

    public bool SignedIn { get; private set; }

    public async Task<IActionResult> OnGetAsync()
    {
        if (ReturnUrl is not null && !IsEndSession(ReturnUrl))
        {
            return RedirectToPage("Error", new { error = "invalid_request" });
        }
        SignedIn = (await HttpContext.AuthenticateAsync(HostedSignIn.Scheme)).Succeeded;
        HttpContext.Items[PageSecurityPolicy.FormTargetItem] = ReturnUrl is null ? null : LoginModel.RedirectTarget(ReturnUrl);
        return Page();
    }

    public async Task<IActionResult> OnPostAsync(CancellationToken cancellationToken)
    {
        if (ReturnUrl is not null && !IsEndSession(ReturnUrl))
        {
            return RedirectToPage("Error", new { error = "invalid_request" });
        }
        HttpContext.Items[PageSecurityPolicy.FormTargetItem] = ReturnUrl is null ? null : LoginModel.RedirectTarget(ReturnUrl);
        if ((await HttpContext.AuthenticateAsync(HostedSignIn.Scheme)).Principal is { } user)
        {
            await AuthorizationApi.SignOutAsync(HttpContext, user, sessions, cancellationToken);
        }
        // Back to end-session, which now finds no sign-in and returns to the client's registered URI (or not at all).
        return ReturnUrl is null ? RedirectToPage("Logout") : LocalRedirect(ReturnUrl);
    }

    private static bool IsEndSession(string url) => HostedSignIn.IsReturnUrl(url) && url.StartsWith(HostedSignIn.EndSessionPath, StringComparison.Ordinal);
}
