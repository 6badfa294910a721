using System.Reflection;
using FluentValidation;
using FluentValidation.Validators;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace SecurePlatform.ServiceDefaults.Validation;

/// <summary>A rule that can say what it checks in an OpenAPI schema (length, pattern, enum, format, description).</summary>
public interface IDocumentedRule
{
    void Document(OpenApiSchema schema);
}

/// <summary>Free text by <see cref="TextRules"/>, as a validator the OpenAPI transformer can read (its lengths).</summary>
public sealed class PlatformTextValidator<T>(int maxCodePoints, bool required, bool multiLine) : PropertyValidator<T, string?>, ILengthValidator, IDocumentedRule
{
    public override string Name => "PlatformText";

    public int Min => required ? 1 : 0;

    public int Max => maxCodePoints;

    public override bool IsValid(ValidationContext<T> context, string? value)
    {
        if (TextRules.Check(TextRules.Normalize(value), maxCodePoints, required, multiLine) is not { } failure)
        {
            return true;
        }
        context.AddFailure(RuleBuilderExtensions.Failure(context.PropertyPath, failure.Rule, failure.Message));
        return true; // the failure is added above, with its own rule code
    }

    public void Document(OpenApiSchema schema)
    {
        schema.MaxLength = maxCodePoints;
        if (required)
        {
            schema.MinLength = 1;
        }
        schema.Description = Append(schema.Description,
            $"NFC; at most {maxCodePoints} code points; no control{(multiLine ? " (line feeds allowed)" : "")}, bidi, zero-width, BOM or tag characters; no leading/trailing white space.");
    }

    internal static string Append(string? description, string text) => string.IsNullOrEmpty(description) ? text : description + " " + text;
}

/// <summary>Documentation only (always valid): for rules written as <c>Custom</c>, what the schema should say of them.</summary>
public sealed class SchemaDocumentationValidator<T, TProperty>(Action<OpenApiSchema> document) : PropertyValidator<T, TProperty>, IDocumentedRule
{
    public override string Name => "SchemaDocumentation";

    public override bool IsValid(ValidationContext<T> context, TProperty value) => true;

    public void Document(OpenApiSchema schema) => document(schema);
}

/// <summary>
/// Writes each request type's validation rules into its OpenAPI schema: lengths (FluentValidation's length rules and
/// <see cref="PlatformTextValidator{T}"/>), patterns (regular-expression rules), required members (not-null /
/// not-empty / a minimum length), and whatever an <see cref="IDocumentedRule"/> says.
/// </summary>
internal sealed class ValidationSchemaTransformer(IServiceProvider services) : IOpenApiSchemaTransformer
{
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        var typeInfo = context.JsonTypeInfo;
        if (schema.Properties is not { Count: > 0 }
            || services.GetService(typeof(IValidator<>).MakeGenericType(typeInfo.Type)) is not IValidator validator)
        {
            return Task.CompletedTask;
        }
        var descriptor = validator.CreateDescriptor();
        foreach (var property in typeInfo.Properties)
        {
            if (property.AttributeProvider is not MemberInfo member
                || !schema.Properties.TryGetValue(property.Name, out var propertySchema)
                || propertySchema is not OpenApiSchema target)
            {
                continue;
            }
            foreach (var rule in descriptor.GetRulesForMember(member.Name))
            {
                foreach (var component in rule.Components)
                {
                    switch (component.Validator)
                    {
                        case IDocumentedRule documented:
                            documented.Document(target);
                            break;
                        case ILengthValidator length:
                            target.MaxLength = length.Max > 0 ? length.Max : target.MaxLength;
                            target.MinLength = length.Min > 0 ? length.Min : target.MinLength;
                            break;
                        case IRegularExpressionValidator regex:
                            target.Pattern = regex.Expression;
                            break;
                    }
                    if (component.Validator is INotNullValidator or INotEmptyValidator or ILengthValidator { Min: > 0 })
                    {
                        (schema.Required ??= new HashSet<string>()).Add(property.Name);
                    }
                }
            }
        }
        return Task.CompletedTask;
    }
}
