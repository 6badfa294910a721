using SecurePlatform.Contracts;
using Microsoft.Extensions.Hosting;

namespace SecurePlatform.Auth.Infrastructure;

/// <summary>Section <c>Login</c>.</summary>
public sealed class LoginOptions
{
    public const string SectionName = "Login";

    /// <summary>The registered public first-party client the tokens belong to when a login names none.</summary>
    public string DefaultClientId { get; set; } = Protocol.Clients.PlatformApp;

    public static IEnumerable<string> Validate(LoginOptions o) => OptionsRule.Failures(
        OptionsRule.Required(o.DefaultClientId, "Login:DefaultClientId"));
}
