namespace SecurePlatform.Auth.Model;

/// <summary>What token-service may name as an external provider and its subject (the key of a linked login).</summary>
public static class ExternalLoginRules
{
    public const int MaxProviderLength = 64;

    /// <summary>The OpenID Connect limit for <c>sub</c> (Core 1.0 §2) and the column's size.</summary>
    public const int MaxSubjectLength = 255;

    public static bool IsProviderName(string? name) =>
        name is { Length: > 0 and <= MaxProviderLength } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    public static bool IsProviderSubject(string? subject) =>
        subject is { Length: > 0 and <= MaxSubjectLength } && subject.All(c => c is > ' ' and < '\u007f');
}
