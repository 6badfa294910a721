using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using OpenIddict.Client.AspNetCore;
using SecurePlatform.Token.Infrastructure;
using SecurePlatform.Token.Model;
using SecurePlatform.Token.Pages.Account;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace SecurePlatform.Token.Apis;

/// <summary>
/// The end of an external sign-in: OpenIddict's client has checked the provider's answer (state bound to this browser,
/// PKCE, nonce, issuer, identity token); auth-service decides which account it is. Plain GET/POST routes, not pages:
/// a provider's form_post carries no antiforgery token, OpenIddict's state is the request-forgery protection here.
/// </summary>
public static class ExternalSignInApi
{
    public static IEndpointRouteBuilder MapExternalSignInApi(this IEndpointRouteBuilder app)
    {
        app.MapMethods(ExternalProviders.CallbackPathPrefix + "{provider}", [HttpMethods.Get, HttpMethods.Post], CallbackAsync)
            .ExcludeFromDescription()
            .DisableAntiforgery();
        return app;
    }

    internal static async Task<IResult> CallbackAsync(HttpContext http, AuthServiceClient auth, ExternalSignInState state, TimeProvider clock, CancellationToken cancellationToken)
    {
        var result = await http.AuthenticateAsync(OpenIddictClientAspNetCoreDefaults.AuthenticationScheme);
        var returnUrl = result.Properties?.RedirectUri;
        if (!result.Succeeded || result.Principal is not { } external || !HostedSignIn.IsReturnUrl(returnUrl))
        {
            return Error("access_denied");
        }
        var provider = external.FindFirstValue(Claims.Private.ProviderName);
        var subject = external.FindFirstValue(ClaimTypes.NameIdentifier) ?? external.FindFirstValue(Claims.Subject);
        if (provider is null || subject is null)
        {
            return Error("access_denied");
        }
        var email = external.FindFirstValue(ClaimTypes.Email) ?? external.FindFirstValue(Claims.Email);
        var emailVerified = string.Equals(external.FindFirstValue(Claims.EmailVerified), "true", StringComparison.OrdinalIgnoreCase);

        // Linking from the security page: only for the user who is signed in here now and asked for it.
        string? linkTo = null;
        if (result.Properties!.Items.TryGetValue(ExternalProviders.LinkProperty, out var asked) && asked is not null)
        {
            var current = await http.AuthenticateAsync(HostedSignIn.Scheme);
            if (current.Principal?.FindFirstValue(Claims.Subject) != asked)
            {
                return Error("access_denied");
            }
            linkTo = asked;
        }
        var clientId = HostedSignIn.Parameters(returnUrl!).GetValueOrDefault(Parameters.ClientId);
        switch (await auth.SignInExternalAsync(provider, subject, email, emailVerified, clientId, linkTo, http, cancellationToken))
        {
            case CredentialCheckResult.Verified { User: var user }:
                state.Clear(http.Response);
                if (linkTo is null)
                {
                    await http.SignInAsync(HostedSignIn.Scheme, LoginModel.Principal(user, clock.GetUtcNow()), new AuthenticationProperties { IsPersistent = false });
                }
                return Results.LocalRedirect(returnUrl!);
            case CredentialCheckResult.MfaRequired { Ticket: var ticket }:
                state.Write(http.Response, new ExternalSignInState.Pending(provider, null, null, false, ticket));
                return Results.LocalRedirect(HostedSignIn.LoginPath + QueryString.Create("returnUrl", returnUrl!));
            case CredentialCheckResult.LinkRequired:
                state.Write(http.Response, new ExternalSignInState.Pending(provider, subject, email, emailVerified, null));
                return Results.LocalRedirect(HostedSignIn.LoginPath + QueryString.Create("returnUrl", returnUrl!));
            case CredentialCheckResult.Refused:
                return Error(linkTo is null ? "external_refused" : "external_linked_elsewhere");
            default:
                return Error("temporarily_unavailable");
        }
    }

    private static IResult Error(string error) => Results.LocalRedirect(HostedSignIn.ErrorPath + QueryString.Create("error", error));
}
