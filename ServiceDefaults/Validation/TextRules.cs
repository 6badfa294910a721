using System.Globalization;
using System.Text;

namespace SecurePlatform.ServiceDefaults.Validation;

/// <summary>
/// The platform's rule for free text from users, in one place:
/// <list type="bullet">
/// <item>text is stored in Unicode normalisation form C (<see cref="Normalize"/>), so visually equal strings compare equal;</item>
/// <item>lengths are counted in code points of the normalised text (a surrogate pair or an emoji counts once
/// per code point, never as two UTF-16 units);</item>
/// <item>control characters (C0, C1, DEL), line/paragraph separators and invisible format characters — bidi
/// embeddings, overrides and isolates (U+202A-202E, U+2066-2069, U+200E/U+200F, U+061C), zero-width space
/// U+200B, word joiner U+2060 and friends, the BOM U+FEFF, tag characters U+E0000-E007F, interlinear annotation —
/// are REFUSED, not stripped: stripping silently changes what the user typed, refusing tells them. Multi-line
/// fields allow line feed (CR LF becomes LF) and nothing else below U+0020;</item>
/// <item>zero-width (non-)joiner U+200C/U+200D are the two exceptions, allowed between two visible characters only:
/// Persian, Indic scripts and emoji sequences need them; at an edge, doubled or next to a space they only hide;</item>
/// <item>unpaired surrogates are refused (not text), and so is leading/trailing white space.</item>
/// </list>
/// </summary>
public static class TextRules
{
    public const string Required = "required";
    public const string MaxLength = "maxLength";
    public const string ControlCharacter = "controlCharacter";
    public const string FormatCharacter = "formatCharacter";
    public const string Whitespace = "whitespace";
    public const string InvalidText = "invalidText";

    /// <summary>
    /// False where .NET runs without ICU (<c>InvariantGlobalization</c>): there it leaves non-ASCII text as it is,
    /// so a service using these rules must run with ICU; a validator using <c>PlatformText</c> refuses to be built otherwise (at start-up).
    /// </summary>
    public static bool NormalizationAvailable
    {
        get
        {
            try
            {
                return "e\u0301".Normalize(NormalizationForm.FormC) == "\u00E9";
            }
            catch (PlatformNotSupportedException)
            {
                return false;
            }
        }
    }

    /// <summary>NFC, and CR LF / lone CR as LF. Null stays null. Malformed UTF-16 is returned as it is (the check refuses it).</summary>
    public static string? Normalize(string? value)
    {
        if (value is null)
        {
            return null;
        }
        var text = value.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        try
        {
            return text.IsNormalized(NormalizationForm.FormC) ? text : text.Normalize(NormalizationForm.FormC);
        }
        catch (ArgumentException)
        {
            return text; // an unpaired surrogate: Check says so
        }
    }

    /// <summary>Length in code points.</summary>
    public static int CodePoints(string value)
    {
        var count = 0;
        foreach (var _ in value.EnumerateRunes())
        {
            count++;
        }
        return count;
    }

    /// <summary>
    /// Checks already-normalised text. Null when valid, else the rule (one of the constants here) and a message.
    /// <paramref name="required"/>: empty or white-space only is refused; otherwise empty is fine.
    /// </summary>
    public static (string Rule, string Message)? Check(string? value, int maxCodePoints, bool required = true, bool multiLine = false)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return required || (value is { Length: > 0 }) ? (Required, "A value is required (not only white space).") : null;
        }
        if (!IsWellFormed(value))
        {
            return (InvalidText, "The text contains an unpaired surrogate.");
        }
        if (CodePoints(value) > maxCodePoints)
        {
            return (MaxLength, $"At most {maxCodePoints} characters (code points).");
        }
        var runes = value.EnumerateRunes().ToArray();
        for (var i = 0; i < runes.Length; i++)
        {
            var rune = runes[i];
            if (rune.Value == '\n' && multiLine)
            {
                continue;
            }
            var category = Rune.GetUnicodeCategory(rune);
            if (category == UnicodeCategory.Control || category is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                return (ControlCharacter, multiLine
                    ? "The text must not contain control characters other than line breaks."
                    : "The text must not contain control characters or line breaks.");
            }
            if (category == UnicodeCategory.Format && !IsJoinerBetweenVisible(runes, i))
            {
                return (FormatCharacter, $"The text must not contain invisible formatting characters (U+{rune.Value:X4}: bidi controls, zero-width characters, BOM, tags).");
            }
        }
        // After the character checks: a control or separator at an edge is named as what it is.
        return value != value.Trim() ? (Whitespace, "The text must not start or end with white space.") : null;
    }

    private static bool IsJoinerBetweenVisible(Rune[] runes, int i) =>
        runes[i].Value is 0x200C or 0x200D
        && i > 0 && i < runes.Length - 1
        && IsVisible(runes[i - 1]) && IsVisible(runes[i + 1]);

    private static bool IsVisible(Rune rune) => Rune.GetUnicodeCategory(rune) is not (
        UnicodeCategory.Format or UnicodeCategory.Control or UnicodeCategory.SpaceSeparator
        or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
        && !Rune.IsWhiteSpace(rune);

    private static bool IsWellFormed(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]))
            {
                if (i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1]))
                {
                    return false;
                }
                i++;
            }
            else if (char.IsLowSurrogate(value[i]))
            {
                return false;
            }
        }
        return true;
    }
}
