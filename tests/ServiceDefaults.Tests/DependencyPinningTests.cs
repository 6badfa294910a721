using System.Text.RegularExpressions;
using System.Xml.Linq;
using SecurePlatform.TestSupport;

namespace SecurePlatform.ServiceDefaults.Tests;

/// <summary>
/// Every package version is pinned once, in Directory.Packages.props: no floating or range versions there,
/// no version (or VersionOverride) in a project file, and the vulnerability audit stays on.
/// </summary>
public partial class DependencyPinningTests
{
    [Fact]
    public void Every_package_version_is_an_exact_pin_in_Directory_Packages_props()
    {
        var props = XDocument.Load(Path.Combine(TestEnvironment.RepoRoot, "Directory.Packages.props"));
        var versions = props.Descendants("PackageVersion").Select(p => (Name: (string?)p.Attribute("Include"), Version: (string?)p.Attribute("Version"))).ToList();

        Assert.NotEmpty(versions);
        Assert.All(versions, v => Assert.True(v.Version is not null && ExactVersion().IsMatch(v.Version), $"{v.Name}: '{v.Version}' is not an exact version"));
        Assert.Equal(versions.Count, versions.Select(v => v.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }

    [Fact]
    public void No_project_sets_a_version_of_its_own()
    {
        var projects = Directory.EnumerateFiles(TestEnvironment.RepoRoot, "*.csproj", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}artifacts{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !p.Contains($"{Path.DirectorySeparatorChar}.local{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(projects);
        foreach (var project in projects)
        {
            var offenders = XDocument.Load(project).Descendants("PackageReference")
                .Where(r => r.Attribute("Version") is not null || r.Attribute("VersionOverride") is not null || r.Element("Version") is not null)
                .Select(r => (string?)r.Attribute("Include"));
            Assert.True(!offenders.Any(), $"{Path.GetRelativePath(TestEnvironment.RepoRoot, project)} sets its own version for {string.Join(", ", offenders)}");
        }
    }

    [Fact]
    public void The_build_audits_every_package_of_any_severity()
    {
        var props = XDocument.Load(Path.Combine(TestEnvironment.RepoRoot, "Directory.Build.props"));
        string? Property(string name) => props.Descendants(name).LastOrDefault()?.Value;

        Assert.Equal("true", Property("NuGetAudit"));
        Assert.Equal("all", Property("NuGetAuditMode"));
        Assert.Equal("low", Property("NuGetAuditLevel"));
        Assert.Equal("true", Property("TreatWarningsAsErrors"));
        Assert.DoesNotContain("NU190", Property("NoWarn") ?? "", StringComparison.Ordinal);
    }

    // 1.2.3 or 1.2.3.4 with an optional pre-release label; no *, no [ranges), no empty version.
    [GeneratedRegex(@"^\d+\.\d+\.\d+(\.\d+)?(-[0-9A-Za-z.-]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex ExactVersion();
}
