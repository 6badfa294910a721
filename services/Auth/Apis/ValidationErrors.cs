using Microsoft.AspNetCore.Http.HttpResults;
using SecurePlatform.Auth.Model;

namespace SecurePlatform.Auth.Apis;

/// <summary>
/// Collects field errors for an RFC 9457 validation problem: <c>errors</c> maps each field to messages,
/// and the extension <c>rules</c> maps it to the machine-readable rule names (those of
/// <c>GET /auth/password-policy</c> for passwords).
/// </summary>
public sealed class ValidationErrors
{
    private readonly Dictionary<string, List<RuleViolation>> _errors = [];

    public bool Any => _errors.Count > 0;

    public void Add(string field, string rule, string message) => Add(field, new RuleViolation(rule, message));

    public void Add(string field, RuleViolation violation)
    {
        if (!_errors.TryGetValue(field, out var list))
        {
            _errors[field] = list = [];
        }
        list.Add(violation);
    }

    public void AddRange(string field, IEnumerable<RuleViolation> violations)
    {
        foreach (var violation in violations)
        {
            Add(field, violation);
        }
    }

    public ValidationProblem ToResult() => TypedResults.ValidationProblem(
        _errors.ToDictionary(e => e.Key, e => e.Value.Select(v => v.Message).ToArray()),
        title: "One or more fields are invalid.",
        extensions: new Dictionary<string, object?>
        {
            ["rules"] = _errors.ToDictionary(e => e.Key, e => e.Value.Select(v => v.Rule).ToArray()),
        });
}
