using System.Reflection;
using FluentValidation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace SecurePlatform.ServiceDefaults.Validation;

/// <summary>
/// The platform's one validation mechanism (FluentValidation 12 validators, strict JSON, UTF-8 only, one problem
/// shape). A service calls <see cref="AddPlatformValidation"/> with the assembly holding its validators and puts
/// <see cref="WithValidation{TBuilder}"/> on its endpoint groups: every handler parameter that has a validator is
/// validated before the handler runs, and a refusal never reaches it (so nothing is stored).
/// </summary>
public static class ValidationExtensions
{
    public static IHostApplicationBuilder AddPlatformValidation(this IHostApplicationBuilder builder, params Assembly[] validatorAssemblies)
    {
        builder.Services.ConfigureHttpJsonOptions(o => StrictJson.Apply(o.SerializerOptions));
        // The binding failure must reach BindingFailureExceptionHandler to be explained (which field, which rule);
        // with ThrowOnBadRequest=false the framework answers a bare 400 and drops the exception.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        // A client's mistake is not an error of ours; and as by default, what an IExceptionHandler answered (a dependency
        // outage's 503) is logged by that handler, not again as unhandled. Setting the callback replaces that default.
        builder.Services.Configure<ExceptionHandlerOptions>(o =>
            o.SuppressDiagnosticsCallback = c => c.Exception is BadHttpRequestException || c.ExceptionHandledBy == ExceptionHandledType.ExceptionHandlerService);
        builder.Services.AddExceptionHandler<BindingFailureExceptionHandler>();
        builder.Services.AddSingleton<PlatformValidationMarker>();
        var validators = new List<Type>();
        foreach (var type in validatorAssemblies.SelectMany(a => a.GetTypes()).Where(t => t is { IsAbstract: false, IsGenericTypeDefinition: false }))
        {
            foreach (var contract in type.GetInterfaces().Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IValidator<>)))
            {
                builder.Services.AddSingleton(contract, type);
                validators.Add(contract);
            }
        }
        // Every validator is built at start-up, so one that cannot work here (a text rule without ICU) stops the service then.
        builder.Services.AddHostedService(services => new ValidatorStartupCheck(services, validators));
        return builder;
    }

    internal static bool HasPlatformValidation(this IServiceProvider services) => services.GetService<PlatformValidationMarker>() is not null;

    /// <summary>
    /// Before any endpoint binds a parameter or reads a body: refuse query values that are not UTF-8 (400), charsets
    /// other than UTF-8 (415), and bodies over an endpoint's own limit (413).
    /// </summary>
    internal static WebApplication UsePlatformValidation(this WebApplication app)
    {
        app.UseMiddleware<QueryStringGuard>();
        app.UseMiddleware<ContentTypeGuard>();
        app.UseMiddleware<RequestBodyLimitGuard>();
        return app;
    }

    /// <summary>Validates every handler parameter whose type has a registered <see cref="IValidator{T}"/>.</summary>
    public static TBuilder WithValidation<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory((factory, next) =>
        {
            var isService = factory.ApplicationServices.GetRequiredService<IServiceProviderIsService>();
            var validated = factory.MethodInfo.GetParameters()
                .Select((p, i) => (Index: i, Validator: typeof(IValidator<>).MakeGenericType(p.ParameterType)))
                .Where(p => isService.IsService(p.Validator))
                .ToArray();
            if (validated.Length == 0)
            {
                return next;
            }
            return async invocation =>
            {
                var errors = new FieldErrors();
                foreach (var (index, validatorType) in validated)
                {
                    if (invocation.Arguments[index] is not { } argument)
                    {
                        continue; // a missing body is the framework's 400 already
                    }
                    var validator = (IValidator)invocation.HttpContext.RequestServices.GetRequiredService(validatorType);
                    var result = await validator.ValidateAsync(new ValidationContext<object>(argument), invocation.HttpContext.RequestAborted);
                    foreach (var failure in result.Errors)
                    {
                        errors.Add(JsonPath(failure.PropertyName), RuleCode(failure.ErrorCode), failure.ErrorMessage);
                    }
                }
                return errors.Any ? errors.ToResult() : await next(invocation);
            };
        });

    /// <summary><c>Address.Lines[0]</c> → <c>address.lines[0]</c>: the JSON names, camelCase.</summary>
    internal static string JsonPath(string propertyName) => string.IsNullOrEmpty(propertyName)
        ? "$"
        : string.Join('.', propertyName.Split('.').Select(s => s.Length == 0 ? s : char.ToLowerInvariant(s[0]) + s[1..]));

    /// <summary>Our rules set their codes; FluentValidation's built-ins (<c>MaximumLengthValidator</c>) become <c>maximumLength</c>.</summary>
    internal static string RuleCode(string? errorCode)
    {
        if (string.IsNullOrEmpty(errorCode))
        {
            return "invalid";
        }
        var code = errorCode.EndsWith("Validator", StringComparison.Ordinal) ? errorCode[..^"Validator".Length] : errorCode;
        return char.ToLowerInvariant(code[0]) + code[1..];
    }

    private sealed class PlatformValidationMarker;

    private sealed class ValidatorStartupCheck(IServiceProvider services, IReadOnlyList<Type> validators) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            foreach (var validator in validators)
            {
                _ = services.GetRequiredService(validator);
            }
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
