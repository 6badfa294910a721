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
/// and goes back to the authorization request. The browser's device cookie goes along and comes back renewed
/// (<see cref="HostedDeviceCookie"/>), so a known browser keeps its budget while the account is attacked from elsewhere.
/// </summary>
public sealed class LoginModel(
    AuthServiceClient auth, TimeProvider clock, IReadOnlyDictionary<string, ExternalProviderSettings> providers, ExternalSignInState state,
    HostedDeviceCookie device) : PageModel
{
    /// <summary>The configured external providers, for the "Sign in with …" buttons.</summary>
    public IEnumerable<(string Name, string DisplayName)> Providers => providers.Select(p => (p.Key, p.Value.DisplayName ?? p.Key));

    /// <summary>An external account waiting to be linked to the account whose password is typed next.</summary>
    public string? LinkingProvider { get; private set; }

    private ExternalSignInState.Pending? _pending;

    /// <summary>Shown only to someone who gave the right password: an administrator asked for a new one.</summary>
    private const string PasswordChangeRequired = "Your password must be changed before you can sign in. Set a new one through your app, or ask your administrator.";

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
        ReadPending();
        if (_pending is { MfaTicket: { } ticket })
        {
            MfaTicket = ticket;
        }
        return Page();
    }

    /// <summary>"Sign in with …": OpenIddict's client takes the browser to the provider and back to our callback.</summary>
    public IActionResult OnPostExternal(string? provider)
    {
        if (!HostedSignIn.IsReturnUrl(ReturnUrl))
        {
            return RedirectToPage("Error", new { error = "invalid_request" });
        }
        if (provider is null || !providers.ContainsKey(provider))
        {
            return RedirectToPage("Error", new { error = "invalid_request" });
        }
        state.Clear(Response);
        var properties = new AuthenticationProperties(new Dictionary<string, string?>
        {
            [OpenIddict.Client.AspNetCore.OpenIddictClientAspNetCoreConstants.Properties.ProviderName] = providers.Keys.First(k => string.Equals(k, provider, StringComparison.OrdinalIgnoreCase)),
        })
        { RedirectUri = ReturnUrl };
        return Challenge(properties, OpenIddict.Client.AspNetCore.OpenIddictClientAspNetCoreDefaults.AuthenticationScheme);
    }

    private void ReadPending()
    {
        _pending = state.Read(Request);
        if (_pending is { Subject: not null } link)
        {
            LinkingProvider = providers.TryGetValue(link.Provider, out var settings) ? settings.DisplayName ?? link.Provider : link.Provider;
        }
    }

    /// <summary>The user proved the local account: link the waiting external account to it (auth-service audits it).</summary>
    private async Task<bool> LinkPendingAsync(VerifiedUser user, CancellationToken cancellationToken)
    {
        if (_pending is not { Subject: { } subject } link)
        {
            return true;
        }
        var clientId = HostedSignIn.Parameters(ReturnUrl!).GetValueOrDefault(Parameters.ClientId);
        var linked = await auth.SignInExternalAsync(link.Provider, subject, link.Email, link.EmailVerified, clientId, user.Subject, HttpContext, cancellationToken);
        state.Clear(Response);
        return linked is CredentialCheckResult.Verified;
    }

    public async Task<IActionResult> OnPostAsync(CancellationToken cancellationToken)
    {
        if (!HostedSignIn.IsReturnUrl(ReturnUrl))
        {
            return RedirectToPage("Error", new { error = "invalid_request" });
        }
        HttpContext.Items[PageSecurityPolicy.FormTargetItem] = FormTarget(ReturnUrl!);
        ReadPending();
        if (string.IsNullOrWhiteSpace(Email) || string.IsNullOrEmpty(Password) || Email.Length > 320 || Password.Length > 1024)
        {
            return Refuse(InvalidCredentials, StatusCodes.Status400BadRequest);
        }
        var clientId = HostedSignIn.Parameters(ReturnUrl!).GetValueOrDefault(Parameters.ClientId);
        switch (await auth.VerifyPasswordAsync(Email.Trim(), Password, clientId, device.Read(Request), HttpContext, cancellationToken))
        {
            case CredentialCheckResult.Verified { User: var user }:
                device.Write(Response, user);
                if (!await LinkPendingAsync(user, cancellationToken))
                {
                    return RedirectToPage("Error", new { error = "external_linked_elsewhere" });
                }
                if (_pending is { MfaTicket: not null })
                {
                    state.Clear(Response);
                }
                await HttpContext.SignInAsync(HostedSignIn.Scheme, Principal(user, clock.GetUtcNow()), new AuthenticationProperties { IsPersistent = false });
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
            case CredentialCheckResult.PasswordChangeRequired:
                return Refuse(PasswordChangeRequired, StatusCodes.Status403Forbidden);
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
        ReadPending();
        var code = string.IsNullOrWhiteSpace(Code) ? null : Code.Trim();
        var recovery = string.IsNullOrWhiteSpace(RecoveryCode) ? null : RecoveryCode.Trim();
        if (string.IsNullOrEmpty(MfaTicket) || MfaTicket.Length > 128 || (code is null) == (recovery is null) || code is { Length: > 16 } || recovery is { Length: > 32 })
        {
            return RefuseCode(InvalidCode, StatusCodes.Status400BadRequest);
        }
        switch (await auth.VerifySecondFactorAsync(MfaTicket, code, recovery, HttpContext, cancellationToken))
        {
            case CredentialCheckResult.Verified { User: var user }:
                device.Write(Response, user); // the password step's device cookie, given out now that the whole sign-in succeeded
                if (!await LinkPendingAsync(user, cancellationToken))
                {
                    return RedirectToPage("Error", new { error = "external_linked_elsewhere" });
                }
                if (_pending is { MfaTicket: not null })
                {
                    state.Clear(Response);
                }
                await HttpContext.SignInAsync(HostedSignIn.Scheme, Principal(user, clock.GetUtcNow()), new AuthenticationProperties { IsPersistent = false });
                return LocalRedirect(ReturnUrl!);
            case CredentialCheckResult.Throttled { RetryAfter: var retryAfter }:
                if (retryAfter is { } wait)
                {
                    Response.Headers.RetryAfter = ((int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
                return RefuseCode("Too many attempts. Wait a moment and try again.", StatusCodes.Status429TooManyRequests);
            case CredentialCheckResult.PasswordChangeRequired:
                return RefuseCode(PasswordChangeRequired, StatusCodes.Status403Forbidden);
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

    /// <summary>The browser's sign-in cookie's principal (also written by the external sign-in's callback).</summary>
    internal static ClaimsPrincipal Principal(VerifiedUser user, DateTimeOffset now)
    {
        var identity = new ClaimsIdentity(HostedSignIn.Scheme, Claims.Subject, PlatformClaims.Roles);
        identity.AddClaim(new Claim(Claims.Subject, user.Subject));
        identity.AddClaim(new Claim(PlatformClaims.Amr, JsonSerializer.Serialize(user.Amr)));
        identity.AddClaim(new Claim(PlatformClaims.Roles, JsonSerializer.Serialize(user.Roles)));
        identity.AddClaim(new Claim(HostedSignIn.Claims.AuthTime, now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)));
        identity.AddClaim(new Claim(HostedSignIn.Claims.BrowserSession, Guid.CreateVersion7().ToString()));
        if (user.Email is not null)
        {
            identity.AddClaim(new Claim(Claims.Email, user.Email));
            identity.AddClaim(new Claim(HostedSignIn.Claims.EmailVerified, user.EmailVerified ? "true" : "false"));
        }
        return new ClaimsPrincipal(identity);
    }

    /// <summary>Where the forms end up: the redirect URI the request names (checked exactly by the authorization endpoint), and the providers.</summary>
    private List<Uri> FormTarget(string returnUrl) =>
        [.. new[] { RedirectTarget(returnUrl) }.Concat(providers.Select(p => ExternalProviders.AuthorizationOrigin(p.Key, p.Value))).OfType<Uri>()];

    internal static Uri? RedirectTarget(string returnUrl)
    {
        var parameters = HostedSignIn.Parameters(returnUrl);
        var target = parameters.GetValueOrDefault(Parameters.RedirectUri) ?? parameters.GetValueOrDefault(Parameters.PostLogoutRedirectUri);
        return Uri.TryCreate(target, UriKind.Absolute, out var uri) ? uri : null;
    }
}
