using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using SecurePlatform.ServiceDefaults.Auth;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Model;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace SecurePlatform.Token.Pages.Account;

/// <summary>
/// The hosted login. What the user types goes to auth-service's credential check (the same code as the JSON
/// login: timing equalisation, events, throttling); on success the browser gets token-service's sign-in cookie
/// and goes back to the authorization request.
/// </summary>
public sealed class LoginModel(AuthServiceClient auth, TimeProvider clock) : PageModel
{
    /// <summary>Generic on purpose: the same for an unknown email, a wrong password and a disabled account.</summary>
    public const string InvalidCredentials = "Invalid email or password.";

    [BindProperty(SupportsGet = true, Name = "returnUrl")]
    public string? ReturnUrl { get; set; }

    [BindProperty(SupportsGet = true, Name = "login_hint")]
    [StringLength(320)]
    public string? Email { get; set; }

    [BindProperty]
    public string? Password { get; set; }

    /// <summary>The second step's ticket (auth-service's, single use, 5 minutes), carried in a hidden field of the code form.</summary>
    [BindProperty]
    public string? MfaTicket { get; set; }

    [BindProperty]
    public string? Code { get; set; }

    [BindProperty]
    public string? RecoveryCode { get; set; }

    /// <summary>The page shows the code form (step two) instead of the password form.</summary>
    public bool AskForCode => MfaTicket is not null;

    public string? Error { get; private set; }

    public IActionResult OnGet()
    {
        if (!HostedSignIn.IsReturnUrl(ReturnUrl))
        {
            return RedirectToPage("Error", new { error = "invalid_request" });
        }
        HttpContext.Items[PageSecurityPolicy.FormTargetItem] = FormTarget(ReturnUrl!);
        return Page();
    }

    public async Task<IActionResult> OnPostAsync(CancellationToken cancellationToken)
    {
        if (!HostedSignIn.IsReturnUrl(ReturnUrl))
        {
            return RedirectToPage("Error", new { error = "invalid_request" });
        }
        HttpContext.Items[PageSecurityPolicy.FormTargetItem] = FormTarget(ReturnUrl!);
        if (string.IsNullOrWhiteSpace(Email) || string.IsNullOrEmpty(Password) || Email.Length > 320 || Password.Length > 1024)
        {
            return Refuse(InvalidCredentials, StatusCodes.Status400BadRequest);
        }
        var clientId = HostedSignIn.Parameters(ReturnUrl!).GetValueOrDefault(Parameters.ClientId);
        switch (await auth.VerifyPasswordAsync(Email.Trim(), Password, clientId, HttpContext, cancellationToken))
        {
            case CredentialCheckResult.Verified { User: var user }:
                await HttpContext.SignInAsync(HostedSignIn.Scheme, Principal(user), new AuthenticationProperties { IsPersistent = false });
                return LocalRedirect(ReturnUrl!);
            case CredentialCheckResult.MfaRequired { Ticket: var ticket }:
                MfaTicket = ticket;
                Password = null;
                return Page();
            case CredentialCheckResult.Throttled { RetryAfter: var retryAfter }:
                if (retryAfter is { } wait)
                {
                    Response.Headers.RetryAfter = ((int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
                return Refuse("Too many sign-in attempts. Wait a moment and try again.", StatusCodes.Status429TooManyRequests);
            case CredentialCheckResult.Refused:
                return Refuse(InvalidCredentials, StatusCodes.Status401Unauthorized);
            default:
                return Refuse("Signing in is not possible right now. Try again in a moment.", StatusCodes.Status503ServiceUnavailable);
        }
    }

    /// <summary>Step two: the code form's ticket and code (or recovery code) go to auth-service's second back-channel call.</summary>
    public async Task<IActionResult> OnPostMfaAsync(CancellationToken cancellationToken)
    {
        if (!HostedSignIn.IsReturnUrl(ReturnUrl))
        {
            return RedirectToPage("Error", new { error = "invalid_request" });
        }
        HttpContext.Items[PageSecurityPolicy.FormTargetItem] = FormTarget(ReturnUrl!);
        var code = string.IsNullOrWhiteSpace(Code) ? null : Code.Trim();
        var recovery = string.IsNullOrWhiteSpace(RecoveryCode) ? null : RecoveryCode.Trim();
        if (string.IsNullOrEmpty(MfaTicket) || MfaTicket.Length > 128 || (code is null) == (recovery is null) || code is { Length: > 16 } || recovery is { Length: > 32 })
        {
            return RefuseCode(InvalidCode, StatusCodes.Status400BadRequest);
        }
        switch (await auth.VerifySecondFactorAsync(MfaTicket, code, recovery, HttpContext, cancellationToken))
        {
            case CredentialCheckResult.Verified { User: var user }:
                await HttpContext.SignInAsync(HostedSignIn.Scheme, Principal(user), new AuthenticationProperties { IsPersistent = false });
                return LocalRedirect(ReturnUrl!);
            case CredentialCheckResult.Throttled { RetryAfter: var retryAfter }:
                if (retryAfter is { } wait)
                {
                    Response.Headers.RetryAfter = ((int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
                return RefuseCode("Too many attempts. Wait a moment and try again.", StatusCodes.Status429TooManyRequests);
            case CredentialCheckResult.Refused:
                // A wrong code keeps the ticket (up to three tries); a worn-out or expired one makes the next try fail
                // too, and the user starts over with the password.
                return RefuseCode(InvalidCode, StatusCodes.Status401Unauthorized);
            default:
                return RefuseCode("Signing in is not possible right now. Try again in a moment.", StatusCodes.Status503ServiceUnavailable);
        }
    }

    public const string InvalidCode = "The code is not valid. Check your authenticator app (or the recovery code) and try again; after three wrong codes, sign in with your password again.";

    private PageResult RefuseCode(string message, int status)
    {
        Error = message;
        Code = null;
        RecoveryCode = null;
        Response.StatusCode = status;
        return Page();
    }

    private PageResult Refuse(string message, int status)
    {
        Error = message;
        Password = null;
        Response.StatusCode = status;
        return Page();
    }

    private ClaimsPrincipal Principal(VerifiedUser user)
    {
        var identity = new ClaimsIdentity(HostedSignIn.Scheme, Claims.Subject, PlatformClaims.Roles);
        identity.AddClaim(new Claim(Claims.Subject, user.Subject));
        identity.AddClaim(new Claim(PlatformClaims.Amr, JsonSerializer.Serialize(user.Amr)));
        identity.AddClaim(new Claim(PlatformClaims.Roles, JsonSerializer.Serialize(user.Roles)));
        identity.AddClaim(new Claim(HostedSignIn.Claims.AuthTime, clock.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)));
        identity.AddClaim(new Claim(HostedSignIn.Claims.BrowserSession, Guid.CreateVersion7().ToString()));
        if (user.Email is not null)
        {
            identity.AddClaim(new Claim(Claims.Email, user.Email));
            identity.AddClaim(new Claim(HostedSignIn.Claims.EmailVerified, user.EmailVerified ? "true" : "false"));
        }
        return new ClaimsPrincipal(identity);
    }

    /// <summary>Where the form ends up: the redirect URI the request names (checked exactly by the authorization endpoint).</summary>
    internal static Uri? FormTarget(string returnUrl)
    {
        var parameters = HostedSignIn.Parameters(returnUrl);
        var target = parameters.GetValueOrDefault(Parameters.RedirectUri) ?? parameters.GetValueOrDefault(Parameters.PostLogoutRedirectUri);
        return Uri.TryCreate(target, UriKind.Absolute, out var uri) ? uri : null;
    }
}
