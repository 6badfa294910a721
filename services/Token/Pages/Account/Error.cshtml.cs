using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace SecurePlatform.Token.Pages.Account;

/// <summary>
/// Where a sign-in that cannot go back to its application ends: an unknown client, a redirect URI that is not
/// registered exactly, a broken or tampered request. Shows a short explanation, never the URI it was given.
/// </summary>
[IgnoreAntiforgeryToken]
public sealed class ErrorModel : PageModel
{
    private static readonly Dictionary<string, string> Explanations = new(StringComparer.Ordinal)
    {
        ["invalid_request"] = "The application sent a sign-in request that is not valid (for example, a return address it has not registered).",
        ["invalid_client"] = "The application is not known here.",
        ["unauthorized_client"] = "The application may not sign in this way.",
        ["access_denied"] = "The sign-in with the other provider did not complete. Go back to the application and try again.",
        ["external_refused"] = "That account cannot sign in here. If you have an account here, sign in with your password and link the provider on your security page.",
        ["external_linked_elsewhere"] = "That external account already signs in to another account here. Remove it there first.",
        ["temporarily_unavailable"] = "Signing in is not possible right now. Try again in a moment.",
        ["consent_mismatch"] = "The consent form does not belong to this sign-in request. Start the sign-in again from the application.",
    };

    [BindProperty(SupportsGet = true)]
    public string? Error { get; set; }

    public string Explanation => Error is not null && Explanations.TryGetValue(Error, out var text)
        ? text
        : "Something went wrong with this sign-in request. Go back to the application and try again.";

    public IActionResult OnGet()
    {
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }
}
