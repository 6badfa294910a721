namespace SecurePlatform.Auth.Model;

/// <summary>A broken input rule: a stable, machine-readable <paramref name="Rule"/> name and a human message.</summary>
public sealed record RuleViolation(string Rule, string Message);
