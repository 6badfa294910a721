using System.Text;
using SecurePlatform.Contracts;
using SecurePlatform.ServiceDefaults.RateLimiting;

namespace SecurePlatform.Token.Infrastructure;

/// <summary>
/// Which budgets a <c>/connect/token</c> request counts against: <c>token</c> per client id and client IP, and
/// <c>token-ip</c> per client IP. Not per client id alone: a public client (the SPA) is shared by every user, and a
/// budget per client id would let anyone who floods it with bad refresh tokens stop every user's refresh. The platform
/// sign-in grant is auth-service's back channel: its sign-ins are limited by auth-service's credential check (per user
/// IP and account), and its client secret is a ≥ 16-character random secret (checked at start-up in Production).
/// </summary>
public static class TokenEndpointBudgets
{
    public static async ValueTask<IReadOnlyList<(string Policy, string Partition)>> ResolveAsync(HttpContext http, string client)
    {
        var clientId = BasicClientId(http.Request.Headers.Authorization.ToString());
        string? grantType = null;
        if (http.Request.HasFormContentType)
        {
            try
            {
                // Buffered by the form feature: OpenIddict reads the same parsed form afterwards.
                var form = await http.Request.ReadFormAsync(http.RequestAborted);
                clientId ??= form["client_id"].ToString();
                grantType = form["grant_type"].ToString();
            }
            catch (InvalidDataException)
            {
                // malformed form: OpenIddict refuses it; it still counts against the per-IP budgets
            }
        }
        if (grantType == Protocol.SignInGrant.GrantType)
        {
            return [];
        }
        var id = string.IsNullOrEmpty(clientId) ? "-" : ClientPartition.Hash(clientId);
        return [(RateLimitPolicies.Token, id + ":" + client), (RateLimitPolicies.TokenIp, client)];
    }

    /// <summary>The client id of an RFC 6749 §2.3.1 Basic header (form-urlencoded id before the colon), or null.</summary>
    public static string? BasicClientId(string authorization)
    {
        if (!authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase) || authorization.Length > 1024)
        {
            return null;
        }
        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            return colon <= 0 ? null : Uri.UnescapeDataString(decoded[..colon].Replace('+', ' '));
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
