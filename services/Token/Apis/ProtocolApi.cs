using System.ComponentModel;
using System.Text.Json.Serialization;

namespace SecurePlatform.Token.Apis;

/// <summary>
/// The OAuth 2.0 / OpenID Connect endpoints in the OpenAPI document. OpenIddict answers revocation,
/// introspection, discovery and JWKS itself, in the authentication middleware, before endpoint routing runs a
/// handler: the routes mapped here only describe them, and their handler is never reached.
/// </summary>
public static class ProtocolApi
{
    private const string Form = "application/x-www-form-urlencoded";
    private const string Tag = "OAuth 2.0 / OpenID Connect";

    public static IEndpointRouteBuilder MapProtocolApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/connect/revoke", AnsweredByOpenIddict)
            .WithTags(Tag).WithSummary("Revoke a refresh or access token (RFC 7009); ends its session.")
            .Accepts<RevocationForm>(Form)
            .Produces(StatusCodes.Status200OK)
            .Produces<OAuthError>(StatusCodes.Status400BadRequest)
            .Produces<OAuthError>(StatusCodes.Status401Unauthorized);
        app.MapPost("/connect/introspect", AnsweredByOpenIddict)
            .WithTags(Tag).WithSummary("Introspect a token (RFC 7662); registered resource servers only.")
            .Accepts<IntrospectionForm>(Form)
            .Produces<IntrospectionResult>()
            .Produces<OAuthError>(StatusCodes.Status400BadRequest)
            .Produces<OAuthError>(StatusCodes.Status401Unauthorized);
        app.MapGet("/.well-known/openid-configuration", AnsweredByOpenIddict)
            .WithTags(Tag).WithSummary("Discovery (OpenID Connect Discovery 1.0, RFC 8414).")
            .Produces<Dictionary<string, object>>();
        app.MapGet("/.well-known/jwks", AnsweredByOpenIddict)
            .WithTags(Tag).WithSummary("The public keys access tokens are signed with (RFC 7517).")
            .Produces<Dictionary<string, object>>();
        return app;
    }

    public static RouteHandlerBuilder DescribeTokenEndpoint(this RouteHandlerBuilder route) => route
        .WithTags(Tag).WithSummary("Issue tokens: client_credentials, refresh_token, and the platform sign-in grant (auth-service only).")
        .Accepts<TokenForm>(Form)
        .Produces<TokenIssued>()
        .Produces<OAuthError>(StatusCodes.Status400BadRequest)
        .Produces<OAuthError>(StatusCodes.Status401Unauthorized);

    public static RouteHandlerBuilder DescribeUserInfoEndpoint(this RouteHandlerBuilder route) => route
        .WithTags(Tag).WithSummary("Claims of the caller's access token (Authorization: Bearer only).")
        .Produces<UserInfoResult>()
        .Produces<OAuthError>(StatusCodes.Status400BadRequest)
        .Produces(StatusCodes.Status401Unauthorized);

    private static IResult AnsweredByOpenIddict() => TypedResults.NotFound();
}

[Description("RFC 6749 token request. Which fields a grant needs depends on grant_type.")]
public sealed record TokenForm(
    [property: JsonPropertyName("grant_type"), Description("client_credentials, refresh_token or urn:secureplatform:grant-type:sign-in")] string GrantType,
    [property: JsonPropertyName("client_id")] string? ClientId = null,
    [property: JsonPropertyName("client_secret"), Description("Confidential clients (or HTTP Basic).")] string? ClientSecret = null,
    [property: JsonPropertyName("refresh_token"), Description("refresh_token grant; browsers may send it as the refresh cookie instead.")] string? RefreshToken = null,
    [property: JsonPropertyName("scope"), Description("api (client_credentials), offline_access.")] string? Scope = null,
    [property: JsonPropertyName("subject"), Description("Sign-in grant: the verified user.")] string? Subject = null,
    [property: JsonPropertyName("amr"), Description("Sign-in grant: authentication methods, space-separated.")] string? Amr = null,
    [property: JsonPropertyName("roles"), Description("Sign-in grant: roles, space-separated.")] string? Roles = null,
    [property: JsonPropertyName("target_client_id"), Description("Sign-in grant: the first-party app the tokens are for.")] string? TargetClientId = null,
    [property: JsonPropertyName("client_ip")] string? ClientIp = null,
    [property: JsonPropertyName("user_agent")] string? UserAgent = null);

public sealed record TokenIssued(
    [property: JsonPropertyName("access_token")] string AccessToken,
    [property: JsonPropertyName("token_type")] string TokenType,
    [property: JsonPropertyName("expires_in")] int ExpiresIn,
    [property: JsonPropertyName("refresh_token")] string? RefreshToken = null,
    [property: JsonPropertyName("scope")] string? Scope = null);

public sealed record RevocationForm(
    [property: JsonPropertyName("token")] string Token,
    [property: JsonPropertyName("token_type_hint")] string? TokenTypeHint = null,
    [property: JsonPropertyName("client_id")] string? ClientId = null,
    [property: JsonPropertyName("client_secret")] string? ClientSecret = null);

public sealed record IntrospectionForm(
    [property: JsonPropertyName("token")] string Token,
    [property: JsonPropertyName("client_id")] string ClientId,
    [property: JsonPropertyName("token_type_hint")] string? TokenTypeHint = null,
    [property: JsonPropertyName("client_secret")] string? ClientSecret = null);

[Description("RFC 7662 response: only active is always present.")]
public sealed record IntrospectionResult(
    [property: JsonPropertyName("active")] bool Active,
    [property: JsonPropertyName("iss")] string? Issuer = null,
    [property: JsonPropertyName("sub")] string? Subject = null,
    [property: JsonPropertyName("client_id")] string? ClientId = null,
    [property: JsonPropertyName("scope")] string? Scope = null,
    [property: JsonPropertyName("token_type")] string? TokenType = null,
    [property: JsonPropertyName("exp")] long? ExpiresAt = null,
    [property: JsonPropertyName("iat")] long? IssuedAt = null,
    [property: JsonPropertyName("jti")] string? TokenId = null);

public sealed record UserInfoResult(
    [property: JsonPropertyName("sub")] string Subject,
    [property: JsonPropertyName("roles")] string[] Roles,
    [property: JsonPropertyName("amr")] string[] Amr);

[Description("RFC 6749 §5.2 error.")]
public sealed record OAuthError(
    [property: JsonPropertyName("error")] string Error,
    [property: JsonPropertyName("error_description")] string? ErrorDescription = null);
