using System.IO.Compression;

namespace SecurePlatform.Auth.Model;

/// <summary>
/// The list of common/breached passwords shipped with the service (<c>Resources/common-passwords.txt.gz</c>,
/// see the NOTICE beside it), held lower-case in a hash set that is loaded once per process.
/// </summary>
public sealed class CommonPasswords
{
    public const string ResourceName = "SecurePlatform.Auth.common-passwords.txt.gz";

    private static readonly Lazy<CommonPasswords> Embedded = new(LoadEmbedded);

    private readonly HashSet<string> _passwords;

    public CommonPasswords(IEnumerable<string> passwords)
        => _passwords = new HashSet<string>(passwords.Select(p => p.Trim().ToLowerInvariant()).Where(p => p.Length > 0), StringComparer.Ordinal);

    /// <summary>The shipped list.</summary>
    public static CommonPasswords Shipped => Embedded.Value;

    public int Count => _passwords.Count;

    /// <summary>Whether <paramref name="lowerCase"/> (already lower-cased) is on the list.</summary>
    public bool Contains(string lowerCase) => _passwords.Contains(lowerCase);

    private static CommonPasswords LoadEmbedded()
    {
        using var resource = typeof(CommonPasswords).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"Embedded resource {ResourceName} is missing.");
        using var gzip = new GZipStream(resource, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, System.Text.Encoding.ASCII);
        var lines = new List<string>(50_000);
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }
        return new CommonPasswords(lines);
    }
}
