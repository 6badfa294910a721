using System.Globalization;
using System.Text;

namespace SecurePlatform.Auth.Model;

/// <summary>
/// The password rules (NIST SP 800-63B / ASVS V6.2): length only, no composition rules, no expiry.
/// <list type="bullet">
/// <item><c>minLength</c>/<c>maxLength</c>: 12..128 characters, counted as Unicode code points (an emoji or
/// an accented letter is one character). The password is stored exactly as typed: no trimming, case folding
/// or Unicode normalisation.</item>
/// <item><c>characters</c>: no control characters (NUL, tab, newline, ...).</item>
/// <item><c>common</c>: not on the shipped list of common/breached passwords; not a listed password with
/// digits/symbols added before or after (<c>password1234</c>, <c>!!qwertyuiop</c>); not a short or listed
/// unit repeated (<c>abcabcabcabc</c>, <c>qwe123qwe123</c>); not a straight run (<c>abcdefghijkl</c>,
/// <c>987654321098</c>).</item>
/// <item><c>serviceName</c>: does not contain the service's own name (<c>secureplatform2026</c>).</item>
/// <item><c>emailSimilarity</c>, case-insensitive, ignoring separators: does not contain the email address,
/// its local part (3+ characters) forwards or reversed, any 4+ character word of the local part
/// (<c>alice</c> of <c>alice.smith@…</c>) or any 4+ character label of the domain but the TLD
/// (<c>acme</c> of <c>…@acme.io</c>). These are the first guesses of a targeted attack.</item>
/// </list>
/// Messages name the rule, never anything about other accounts.
/// </summary>
public sealed class PasswordPolicy(CommonPasswords commonPasswords)
{
    public const int MinLength = 12;
    public const int MaxLength = 128;
    public const int MinEmailPartLength = 3;
    public const int MinEmailWordLength = 4;

    /// <summary>Words of the service itself (NIST: "context-specific words, such as the name of the service").</summary>
    public static readonly IReadOnlyList<string> ServiceWords = ["secureplatform"];

    public static class Rules
    {
        public const string Required = "required";
        public const string MinLength = "minLength";
        public const string MaxLength = "maxLength";
        public const string Characters = "characters";
        public const string Common = "common";
        public const string ServiceName = "serviceName";
        public const string EmailSimilarity = "emailSimilarity";
        public const string Reused = "reused";
    }

    public int CommonPasswordCount => commonPasswords.Count;

    /// <summary>Every rule <paramref name="password"/> breaks for the account <paramref name="normalizedEmail"/> (empty when it is acceptable).</summary>
    public IReadOnlyList<RuleViolation> Check(string? password, string? normalizedEmail)
    {
        if (string.IsNullOrEmpty(password))
        {
            return [new RuleViolation(Rules.Required, "A password is required.")];
        }
        var violations = new List<RuleViolation>();
        var length = CountCodePoints(password, out var hasControl);
        if (length < MinLength)
        {
            violations.Add(new RuleViolation(Rules.MinLength, $"The password must be at least {MinLength} characters long."));
        }
        if (length > MaxLength)
        {
            violations.Add(new RuleViolation(Rules.MaxLength, $"The password must be at most {MaxLength} characters long."));
            return violations; // no point (and no CPU) checking lists against an over-long value
        }
        if (hasControl)
        {
            violations.Add(new RuleViolation(Rules.Characters, "The password must not contain control characters."));
        }
        var lower = password.ToLowerInvariant();
        if (IsCommon(lower))
        {
            violations.Add(new RuleViolation(Rules.Common, "The password is too common: it is on a list of breached or frequently used passwords, or follows a predictable pattern."));
        }
        var compact = Compact(lower);
        if (ServiceWords.Any(word => compact.Contains(word, StringComparison.Ordinal)))
        {
            violations.Add(new RuleViolation(Rules.ServiceName, "The password must not contain the name of this service."));
        }
        if (normalizedEmail is not null && IsSimilarToEmail(lower, compact, normalizedEmail))
        {
            violations.Add(new RuleViolation(Rules.EmailSimilarity, "The password is too similar to the email address."));
        }
        return violations;
    }

    /// <summary>Code points of <paramref name="value"/>; -1 when it is not valid UTF-16 (a lone surrogate).</summary>
    internal static int CountCodePoints(string value, out bool hasControl)
    {
        hasControl = false;
        var count = 0;
        var span = value.AsSpan();
        while (!span.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(span, out var rune, out var consumed) != System.Buffers.OperationStatus.Done)
            {
                hasControl = true; // a lone surrogate cannot be typed and does not survive UTF-8: refuse it like a control character
                rune = Rune.ReplacementChar;
                consumed = 1;
            }
            if (Rune.GetUnicodeCategory(rune) == UnicodeCategory.Control)
            {
                hasControl = true;
            }
            count++;
            span = span[consumed..];
        }
        return count;
    }

    private bool IsCommon(string lower)
    {
        if (commonPasswords.Contains(lower))
        {
            return true;
        }
        // A listed password with digits/symbols around it: password1234, 2024dragon!, qwertyuiop123.
        var core = lower.AsSpan().Trim(NonLetters).ToString();
        if (core.Length >= 4 && core.Length < lower.Length && commonPasswords.Contains(core))
        {
            return true;
        }
        return IsRepetition(lower) || IsStraightRun(lower);
    }

    private static readonly char[] NonLetters = "0123456789 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".ToCharArray();

    /// <summary>The same unit at least twice, where the unit is short (≤ 4) or itself common.</summary>
    private bool IsRepetition(string lower)
    {
        for (var unit = 1; unit <= lower.Length / 2; unit++)
        {
            if (lower.Length % unit != 0)
            {
                continue;
            }
            var candidate = lower.AsSpan(0, unit);
            var repeats = true;
            for (var i = unit; i < lower.Length && repeats; i += unit)
            {
                repeats = lower.AsSpan(i, unit).SequenceEqual(candidate);
            }
            if (repeats && (unit <= 4 || commonPasswords.Contains(candidate.ToString())))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Every step +1, or every step −1 (digits wrap 9→0): abcdefghijkl, 345678901234, 987654321098.</summary>
    private static bool IsStraightRun(string lower)
    {
        if (lower.Length < 3)
        {
            return false;
        }
        int Step(char a, char b)
        {
            if (char.IsAsciiDigit(a) && char.IsAsciiDigit(b))
            {
                var step = ((b - a) % 10 + 10) % 10;
                return step switch { 1 => 1, 9 => -1, _ => 0 };
            }
            return b - a is 1 or -1 ? b - a : 0;
        }
        var direction = Step(lower[0], lower[1]);
        if (direction == 0)
        {
            return false;
        }
        for (var i = 2; i < lower.Length; i++)
        {
            if (Step(lower[i - 1], lower[i]) != direction)
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsSimilarToEmail(string lower, string compactPassword, string normalizedEmail)
    {
        if (lower.Contains(normalizedEmail, StringComparison.Ordinal))
        {
            return true;
        }
        var local = EmailAddress.LocalPart(normalizedEmail);
        var compactLocal = Compact(local);
        foreach (var part in new[] { local, Reverse(local), compactLocal, Reverse(compactLocal) })
        {
            if (part.Length >= MinEmailPartLength && (lower.Contains(part, StringComparison.Ordinal) || compactPassword.Contains(part, StringComparison.Ordinal)))
            {
                return true;
            }
        }
        var domainLabels = EmailAddress.Domain(normalizedEmail).Split('.');
        var words = local.Split(NonAlphanumeric, StringSplitOptions.RemoveEmptyEntries)
            .Concat(domainLabels[..^1].SelectMany(label => label.Split('-')))
            .Where(word => word.Length >= MinEmailWordLength);
        return words.Any(word => compactPassword.Contains(word, StringComparison.Ordinal));
    }

    private static readonly char[] NonAlphanumeric = ".!#$%&'*+/=?^_`{|}~-0123456789".ToCharArray();

    /// <summary>Letters and digits only (separators, spaces and symbols dropped).</summary>
    private static string Compact(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            if (char.IsLetterOrDigit(c))
            {
                builder.Append(c);
            }
        }
        return builder.ToString();
    }

    private static string Reverse(string value)
    {
        var chars = value.ToCharArray();
        Array.Reverse(chars);
        return new string(chars);
    }
}
