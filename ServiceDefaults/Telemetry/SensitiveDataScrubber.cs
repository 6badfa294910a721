using System.Text.RegularExpressions;
using Sentry;

namespace SecurePlatform.ServiceDefaults.Telemetry;

/// <summary>
/// What leaves the process in an error report: never credentials, tokens, cookies, secrets, email addresses
/// or IP addresses. Applied to every event and breadcrumb before the SDK sends it; the SDK's own defaults
/// (no PII, no request bodies) are the first line, this is the second, for what code writes into messages.
/// </summary>
public static partial class SensitiveDataScrubber
{
    public const string Redacted = "[redacted]";

    /// <summary>Header, cookie, query, tag and extra names whose values are never sent.</summary>
    public static bool IsSensitiveName(string name) => SensitiveName().IsMatch(name);

    /// <summary>The text with emails, IP addresses, JWTs, bearer credentials and key=value secrets replaced.</summary>
    public static string? ScrubText(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }
        text = Jwt().Replace(text, Redacted);
        text = BearerOrBasic().Replace(text, m => m.Groups[1].Value + " " + Redacted);
        text = SecretAssignment().Replace(text, m => m.Groups[1].Value + m.Groups[2].Value + Redacted);
        text = Email().Replace(text, Redacted);
        text = IPv6().Replace(text, Redacted); // first: an IPv4-mapped address contains an IPv4 one
        text = IPv4().Replace(text, Redacted);
        return text;
    }

    public static SentryEvent Scrub(SentryEvent evt)
    {
        evt.Message = evt.Message is null ? null : new SentryMessage
        {
            Message = ScrubText(evt.Message.Message),
            Formatted = ScrubText(evt.Message.Formatted),
            // Template parameters are the values themselves: never sent.
        };
        foreach (var exception in evt.SentryExceptions ?? [])
        {
            exception.Value = ScrubText(exception.Value);
        }
        evt.ServerName = null;
        evt.User = new SentryUser(); // no id, email, username or IP address
        ScrubRequest(evt.Request);
        foreach (var key in evt.Tags.Keys.ToList())
        {
            evt.SetTag(key, IsSensitiveName(key) ? Redacted : ScrubText(evt.Tags[key]) ?? "");
        }
        foreach (var key in evt.Extra.Keys.ToList())
        {
            evt.SetExtra(key, IsSensitiveName(key) ? Redacted : ScrubValue(evt.Extra[key]));
        }
        // Breadcrumbs were scrubbed as they were recorded (BeforeBreadcrumb).
        return evt;
    }

    public static Breadcrumb Scrub(Breadcrumb breadcrumb)
    {
        var data = breadcrumb.Data?.ToDictionary(d => d.Key, d => IsSensitiveName(d.Key) ? Redacted : ScrubText(d.Value) ?? "");
        // Breadcrumbs are immutable; this runs as each one is recorded (a moment after its own timestamp).
        return new Breadcrumb(ScrubText(breadcrumb.Message) ?? "", breadcrumb.Type ?? "default", data, breadcrumb.Category, breadcrumb.Level);
    }

    private static void ScrubRequest(SentryRequest request)
    {
        request.Cookies = null;
        request.Data = null; // bodies carry passwords and personal data
        request.QueryString = ScrubQuery(request.QueryString);
        request.Url = ScrubText(request.Url);
        foreach (var key in request.Headers.Keys.ToList())
        {
            request.Headers[key] = IsSensitiveName(key) ? Redacted : ScrubText(request.Headers[key]) ?? "";
        }
        foreach (var key in request.Env.Keys.ToList())
        {
            request.Env[key] = Redacted; // REMOTE_ADDR, SERVER_NAME and the like
        }
    }

    private static string? ScrubQuery(string? query)
    {
        if (string.IsNullOrEmpty(query))
        {
            return query;
        }
        var parts = query.TrimStart('?').Split('&').Select(pair =>
        {
            var name = pair.Split('=', 2)[0];
            return IsSensitiveName(Uri.UnescapeDataString(name)) ? name + "=" + Redacted : ScrubText(Uri.UnescapeDataString(pair))!;
        });
        return string.Join('&', parts);
    }

    private static object? ScrubValue(object? value) => value switch
    {
        null => null,
        string s => ScrubText(s),
        bool or int or long or double or decimal => value,
        _ => ScrubText(value.ToString()),
    };

    [GeneratedRegex(@"(authorization|cookie|token|passw|pwd|secret|credential|api[-_]?key|session|e-?mail|^ip$|ip[-_]?address|x-forwarded|x-real-ip|remote[-_]?addr|otp|totp|code_verifier|^code$)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SensitiveName();

    [GeneratedRegex(@"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}(\.[A-Za-z0-9_-]*)*", RegexOptions.CultureInvariant)]
    private static partial Regex Jwt();

    [GeneratedRegex(@"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex BearerOrBasic();

    [GeneratedRegex(@"((?:pass(?:word)?|pwd|secret|token|api[-_]?key|client_secret|refresh_token|access_token)[""']?)(\s*[=:]\s*[""']?)[^\s&""',;]+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SecretAssignment();

    // Also percent-encoded (%40), as in a logged URL.
    [GeneratedRegex(@"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9.-]+\.[A-Za-z]{2,}", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Email();

    [GeneratedRegex(@"\b(?:\d{1,3}\.){3}\d{1,3}\b", RegexOptions.CultureInvariant)]
    private static partial Regex IPv4();

    [GeneratedRegex(@"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{0,4}\b|::ffff:[0-9.]+|\b[0-9A-Fa-f]{1,4}::[0-9A-Fa-f:]*", RegexOptions.CultureInvariant)]
    private static partial Regex IPv6();
}
