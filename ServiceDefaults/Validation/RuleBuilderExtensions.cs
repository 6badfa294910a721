using FluentValidation;

namespace SecurePlatform.ServiceDefaults.Validation;

/// <summary>FluentValidation rules for the platform's own rule classes, each failure carrying its stable code.</summary>
public static class RuleBuilderExtensions
{
    /// <summary>Free text by <see cref="TextRules"/> (the value is checked as it will be stored: NFC).</summary>
    public static IRuleBuilderOptions<T, string?> PlatformText<T>(this IRuleBuilder<T, string?> rule, int maxCodePoints, bool required = true, bool multiLine = false)
    {
        if (!TextRules.NormalizationAvailable)
        {
            throw new InvalidOperationException("Unicode normalisation is unavailable: set <InvariantGlobalization>false</InvariantGlobalization> (the text rules need ICU).");
        }
        return rule.SetValidator(new PlatformTextValidator<T>(maxCodePoints, required, multiLine));
    }

    /// <summary>What the OpenAPI schema says of a member whose rule is a <c>Custom</c> one (pattern, enum, format…).</summary>
    public static IRuleBuilderOptions<T, TProperty> Documented<T, TProperty>(this IRuleBuilder<T, TProperty> rule, Action<Microsoft.OpenApi.OpenApiSchema> document) =>
        rule.SetValidator(new SchemaDocumentationValidator<T, TProperty>(document));

    /// <summary>A failure with its rule code, for <c>context.AddFailure</c> in custom rules.</summary>
    public static FluentValidation.Results.ValidationFailure Failure(string propertyPath, string rule, string message) =>
        new(propertyPath, message) { ErrorCode = rule };
}
