using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace SecurePlatform.ServiceDefaults.Validation;

/// <summary>
/// The one shape of a validation refusal on every service (auth-service's since its first release): an RFC 9457
/// problem, 400, <c>errors</c> mapping each field (its JSON path, camelCase: <c>address.postalCode</c>,
/// <c>lines[1]</c>, <c>$</c> for the body itself) to messages, and the extension <c>rules</c> mapping the same
/// field to stable, machine-readable rule codes (<c>maxLength</c>, <c>unknownMember</c>, <c>invalidForRegion</c>…).
/// </summary>
public sealed class FieldErrors
{
    public const string Title = "One or more fields are invalid.";

    private readonly Dictionary<string, List<(string Rule, string Message)>> _errors = [];

    public bool Any => _errors.Count > 0;

    public IReadOnlyCollection<string> Fields => _errors.Keys;

    public FieldErrors Add(string field, string rule, string message)
    {
        if (!_errors.TryGetValue(field, out var list))
        {
            _errors[field] = list = [];
        }
        list.Add((rule, message));
        return this;
    }

    public IReadOnlyList<string> RulesOf(string field) => _errors.TryGetValue(field, out var list) ? list.Select(e => e.Rule).ToArray() : [];

    public ValidationProblem ToResult() => TypedResults.ValidationProblem(
        _errors.ToDictionary(e => e.Key, e => e.Value.Select(v => v.Message).ToArray()),
        title: Title,
        extensions: new Dictionary<string, object?>
        {
            ["rules"] = _errors.ToDictionary(e => e.Key, e => e.Value.Select(v => v.Rule).ToArray()),
        });

    public static ValidationProblem One(string field, string rule, string message) => new FieldErrors().Add(field, rule, message).ToResult();
}
