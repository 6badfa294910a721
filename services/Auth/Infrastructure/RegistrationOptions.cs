namespace SecurePlatform.Auth.Infrastructure;

/// <summary>Section <c>Registration</c>.</summary>
public sealed class RegistrationOptions
{
    public const string SectionName = "Registration";

    /// <summary>Self-service registration: <c>POST /auth/register</c>, and a first external sign-in creating an account. Closed: 403 for both.</summary>
    public bool Open { get; set; } = true;
}
