using System.Text;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;

namespace SecurePlatform.ServiceDefaults.Validation;

/// <summary>
/// Query values are UTF-8 text. The framework decodes a percent-encoded byte sequence that is not UTF-8 (<c>%FF</c>,
/// a lone <c>%C3</c>) to U+FFFD, so <c>userId=%FF</c> and <c>userId=%EF%BF%BD</c> would look alike and a filter would
/// quietly search for a replacement character. Instead such a parameter is refused: 400, the parameter named, rule
/// <c>utf8</c>. A malformed escape (<c>%G1</c>, a trailing <c>%</c>) stays literal text, as the framework reads it.
/// </summary>
public static class QueryStringRules
{
    public const string Rule = "utf8";

    /// <summary>The refusal for a raw query string (with or without its leading <c>?</c>), or null when every name and value is UTF-8.</summary>
    public static FieldErrors? Check(string? rawQuery)
    {
        if (string.IsNullOrEmpty(rawQuery) || !rawQuery.Contains('%', StringComparison.Ordinal))
        {
            return null;
        }
        FieldErrors? errors = null;
        foreach (var pair in rawQuery.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var (name, value) = equals < 0 ? (pair, "") : (pair[..equals], pair[(equals + 1)..]);
            var nameValid = Utf8.IsValid(PercentDecode(name));
            if (nameValid && Utf8.IsValid(PercentDecode(value)))
            {
                continue;
            }
            // A name that is not UTF-8 itself is reported as the client wrote it.
            var field = nameValid ? Uri.UnescapeDataString(name.Replace('+', ' ')) : name;
            (errors ??= new FieldErrors()).Add(field, Rule, "must be UTF-8 text: its percent-encoded bytes do not form UTF-8 characters.");
        }
        return errors;
    }

    /// <summary>The bytes a query component stands for: <c>+</c> is a space, <c>%XX</c> a byte, anything else its UTF-8.</summary>
    internal static byte[] PercentDecode(string component)
    {
        var bytes = new List<byte>(component.Length);
        for (var i = 0; i < component.Length; i++)
        {
            if (component[i] == '%' && i + 2 < component.Length
                && Uri.IsHexDigit(component[i + 1]) && Uri.IsHexDigit(component[i + 2]))
            {
                bytes.Add((byte)Convert.ToInt32(component.Substring(i + 1, 2), 16));
                i += 2;
            }
            else if (component[i] == '+')
            {
                bytes.Add((byte)' ');
            }
            else
            {
                // A character that was not percent-encoded Kestrel has already read as text: it counts as its UTF-8.
                var end = i + 1 < component.Length && char.IsSurrogatePair(component[i], component[i + 1]) ? i + 2 : i + 1;
                bytes.AddRange(Encoding.UTF8.GetBytes(component, i, end - i));
                i = end - 1;
            }
        }
        return [.. bytes];
    }
}

/// <summary>Applies <see cref="QueryStringRules"/> before any endpoint binds a query parameter.</summary>
internal sealed class QueryStringGuard(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context) =>
        QueryStringRules.Check(context.Request.QueryString.Value) is { } errors ? errors.ToResult().ExecuteAsync(context) : next(context);
}
