using FluentValidation;

namespace SecurePlatform.ServiceDefaults.Validation;

/// <summary>FluentValidation rules for the platform's own rule classes, each failure carrying its stable code.</summary>
public static class RuleBuilderExtensions
{
    /// <summary>Free text by <see cref="TextRules"/> (the value is checked as it will be stored: NFC).</summary>
    public static IRuleBuilderOptionsConditions<T, string?> PlatformText<T>(this IRuleBuilder<T, string?> rule, int maxCodePoints, bool required = true, bool multiLine = false) =>
        rule.Custom((value, context) =>
        {
            if (TextRules.Check(TextRules.Normalize(value), maxCodePoints, required, multiLine) is { } failure)
            {
                context.AddFailure(Failure(context.PropertyPath, failure.Rule, failure.Message));
            }
        });

    /// <summary>A failure with its rule code, for <c>context.AddFailure</c> in custom rules.</summary>
    public static FluentValidation.Results.ValidationFailure Failure(string propertyPath, string rule, string message) =>
        new(propertyPath, message) { ErrorCode = rule };
}
