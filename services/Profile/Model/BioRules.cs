using AngleSharp.Html.Parser;
using Ganss.Xss;

namespace SecurePlatform.Profile.Model;

/// <summary>
/// The bio is limited rich text: HtmlSanitizer against an allow-list — paragraphs, line breaks, emphasis, lists and
/// links, nothing else (no attributes but <c>href</c>, no styles, no classes). A link keeps its <c>href</c> only when
/// it is an absolute <c>https:</c> URL (so <c>javascript:</c>, <c>data:</c>, relative and protocol-relative links
/// lose it) and always gets <c>rel="nofollow noopener noreferrer"</c>. Whatever is not allowed is removed, not
/// refused: the bio is stored and returned as sanitised. Its visible text is limited in code points.
/// </summary>
public static class BioRules
{
    public const int MaxTextLength = 1000;

    /// <summary>What the sanitiser reads at most (markup included): bigger is refused before parsing.</summary>
    public const int MaxInputLength = 10_000;

    public const string Rel = "nofollow noopener noreferrer";

    private static readonly HtmlSanitizer Sanitizer = CreateSanitizer();

    private static HtmlSanitizer CreateSanitizer()
    {
        var sanitizer = new HtmlSanitizer(new HtmlSanitizerOptions
        {
            AllowedTags = new HashSet<string>(["p", "br", "em", "strong", "ul", "ol", "li", "a"], StringComparer.OrdinalIgnoreCase),
            AllowedAttributes = new HashSet<string>(["href"], StringComparer.OrdinalIgnoreCase),
            UriAttributes = new HashSet<string>(["href"], StringComparer.OrdinalIgnoreCase),
            AllowedSchemes = new HashSet<string>(["https"], StringComparer.OrdinalIgnoreCase),
            AllowedCssProperties = new HashSet<string>(StringComparer.OrdinalIgnoreCase),
            AllowedAtRules = new HashSet<AngleSharp.Css.Dom.CssRuleType>(),
            AllowedClasses = new HashSet<string>(StringComparer.OrdinalIgnoreCase),
            AllowCssCustomProperties = false,
            AllowDataAttributes = false,
        });
        // A disallowed element goes with its content (<script>…</script> leaves no text behind).
        sanitizer.KeepChildNodes = false;
        sanitizer.FilterUrl += (_, e) =>
        {
            if (!Uri.TryCreate(e.OriginalUrl, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps || !string.IsNullOrEmpty(uri.UserInfo))
            {
                e.SanitizedUrl = null;
            }
        };
        sanitizer.PostProcessNode += (_, e) =>
        {
            if (e.Node is AngleSharp.Dom.IElement { LocalName: "a" } link)
            {
                link.SetAttribute("rel", Rel);
            }
        };
        return sanitizer;
    }

    /// <summary>The sanitised HTML (empty when nothing visible is left).</summary>
    public static string Sanitize(string html)
    {
        var clean = Sanitizer.Sanitize(html).Trim();
        return PlainText(clean).Trim().Length == 0 ? "" : clean;
    }

    /// <summary>The visible text of sanitised HTML.</summary>
    public static string PlainText(string sanitizedHtml) =>
        new HtmlParser().ParseDocument("<body>" + sanitizedHtml).Body?.TextContent ?? "";
}
