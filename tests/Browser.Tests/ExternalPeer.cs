using System.Diagnostics;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Browser.Tests;

/// <summary>
/// The external provider of the tests: panva's oidc-provider, a real OpenID provider in Node, installed from npm into
/// .local/oidc-peer (no lockfile, so no registry host is named) and started on loopback.
/// </summary>
public sealed class ExternalPeer : IAsyncDisposable
{
    public const string ClientId = "secureplatform-test";

    public static string ClientSecret { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));

    private readonly Process _node;
    private readonly System.Text.StringBuilder _output = new();

    private ExternalPeer(Process node, int port)
    {
        _node = node;
        Issuer = new Uri($"http://127.0.0.1:{port}");
    }

    public Uri Issuer { get; }

    public string Output { get { lock (_output) { return _output.ToString(); } } }

    public static int ReservePort() => ServiceProcess.FreePort();

    public static async Task<ExternalPeer> StartAsync(int port, Uri redirectUri)
    {
        var source = Path.Combine(TestEnvironment.RepoRoot, "tests", "Browser.Tests", "ExternalPeer");
        var folder = Path.Combine(TestEnvironment.RepoRoot, ".local", "oidc-peer");
        Directory.CreateDirectory(folder);
        foreach (var file in new[] { "package.json", "provider.mjs" })
        {
            File.Copy(Path.Combine(source, file), Path.Combine(folder, file), overwrite: true);
        }
        if (!File.Exists(Path.Combine(folder, "node_modules", "oidc-provider", "package.json")))
        {
            using var npm = Process.Start(new ProcessStartInfo("npm", "install --no-package-lock --no-audit --no-fund --loglevel=error")
            {
                WorkingDirectory = folder,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var log = npm.StandardError.ReadToEndAsync();
            await npm.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
            Assert.True(npm.ExitCode == 0, "npm install oidc-provider failed: " + await log);
        }
        var start = new ProcessStartInfo("node", ["provider.mjs", port.ToString(System.Globalization.CultureInfo.InvariantCulture), ClientId, ClientSecret, redirectUri.ToString()])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var peer = new ExternalPeer(Process.Start(start)!, port);
        peer._node.OutputDataReceived += (_, e) => { lock (peer._output) { peer._output.AppendLine(e.Data); } };
        peer._node.ErrorDataReceived += (_, e) => { lock (peer._output) { peer._output.AppendLine(e.Data); } };
        peer._node.BeginOutputReadLine();
        peer._node.BeginErrorReadLine();
        using var http = new HttpClient();
        await Eventually.HoldsAsync(async () =>
        {
            try
            {
                return (await http.GetAsync(new Uri(peer.Issuer, "/.well-known/openid-configuration"))).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30), "oidc-provider answers discovery");
        return peer;
    }

    /// <summary>oidc-provider's development pages, once the browser is there: any login (it becomes the sub), then its consent.</summary>
    public async Task SignInAsync(Microsoft.Playwright.IPage page, string login)
    {
        await page.WaitForURLAsync(url => url.StartsWith(Issuer.ToString(), StringComparison.Ordinal));
        await page.FillAsync("input[name=login]", login);
        await page.FillAsync("input[name=password]", "any");
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("button[type=submit]:has-text('Continue')");
        await page.ClickAsync("button[type=submit]");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_node.HasExited)
        {
            _node.Kill(entireProcessTree: true);
            await _node.WaitForExitAsync();
        }
        _node.Dispose();
    }
}
