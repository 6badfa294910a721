using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

public static class OptionsRulesExtensions
{
    /// <summary>
    /// Checks the options with <paramref name="rules"/> when the host starts, so a bad setting stops the service at
    /// once instead of failing later inside a background loop. Each message names the setting (<c>Section:Key</c>)
    /// and the rule; the start-up error lists them all.
    /// </summary>
    public static OptionsBuilder<T> ValidateRulesOnStart<T>(this OptionsBuilder<T> builder, Func<T, IEnumerable<string>> rules)
        where T : class
    {
        builder.Services.AddSingleton<IValidateOptions<T>>(new RulesValidator<T>(builder.Name, rules));
        return builder.ValidateOnStart();
    }

    private sealed class RulesValidator<T>(string name, Func<T, IEnumerable<string>> rules) : IValidateOptions<T>
        where T : class
    {
        public ValidateOptionsResult Validate(string? optionsName, T options)
        {
            if (optionsName is not null && optionsName != name)
            {
                return ValidateOptionsResult.Skip;
            }
            var errors = rules(options).ToList();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}

/// <summary>Small checks the options rules share; each returns the message naming <c>setting</c>, or null.</summary>
public static class OptionsRule
{
    public static string? Positive(TimeSpan value, string setting) => value > TimeSpan.Zero ? null : $"{setting} must be a positive duration.";

    public static string? NotNegative(TimeSpan value, string setting) => value >= TimeSpan.Zero ? null : $"{setting} must not be negative.";

    public static string? AtLeast(long value, long minimum, string setting) => value >= minimum ? null : $"{setting} must be at least {minimum}.";

    public static string? Required(string? value, string setting) => string.IsNullOrWhiteSpace(value) ? $"{setting} is required." : null;

    /// <summary>The non-null messages of <paramref name="checks"/>.</summary>
    public static IEnumerable<string> Failures(params IEnumerable<string?> checks) => checks.Where(c => c is not null)!;
}
