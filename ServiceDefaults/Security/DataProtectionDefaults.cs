using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.StackExchangeRedis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace SecurePlatform.ServiceDefaults.Security;

/// <summary>
/// ASP.NET Core Data Protection for a service whose replicas share one key ring, kept in Redis and protected at
/// rest with a certificate from configuration (section <c>DataProtection</c>: <c>CertificatePath</c> + <c>KeyPath</c>
/// for PEM, or a PFX with <c>Password</c>). Production requires the certificate: without it anyone who can read
/// Redis could read the ring, and with it every secret the ring protects.
/// </summary>
public static class DataProtectionDefaults
{
    public const string SectionName = "DataProtection";
    public const string CertificateSetting = "DataProtection:CertificatePath";

    /// <summary>Previous certificates (PFX/PEM paths) that may still decrypt older ring entries after a certificate change.</summary>
    public const string PreviousCertificatesSection = "DataProtection:PreviousCertificates";

    /// <param name="requireCertificateInProduction">
    /// False where the ring protects nothing more valuable than the rest of that Redis (auth-service's device cookies);
    /// the certificate is then used when configured.
    /// </param>
    public static IHostApplicationBuilder AddSharedDataProtection(this IHostApplicationBuilder builder, string applicationName, bool requireCertificateInProduction = true)
    {
        var section = builder.Configuration.GetSection(SectionName);
        var ringKey = section["RedisKey"] ?? "dataprotection:" + applicationName;
        var dataProtection = builder.Services.AddDataProtection().SetApplicationName("secureplatform-" + applicationName);
        builder.Services.AddOptions<KeyManagementOptions>().Configure<IConnectionMultiplexer>((o, redis) =>
            o.XmlRepository = new RedisXmlRepository(() => redis.GetDatabase(), ringKey));
        if (Load(section["CertificatePath"], section["KeyPath"], section["Password"]) is { } certificate)
        {
            dataProtection.ProtectKeysWithCertificate(certificate);
            var previous = section.GetSection("PreviousCertificates").GetChildren()
                .Select(c => Load(c["CertificatePath"], c["KeyPath"], c["Password"]))
                .OfType<X509Certificate2>()
                .Append(certificate)
                .ToArray();
            dataProtection.UnprotectKeysWithAnyCertificate(previous);
        }
        if (requireCertificateInProduction)
        {
            builder.Services.AddRequiredInProduction(CertificateSetting, "protects the Data Protection key ring at rest");
        }
        return builder;
    }

    private static X509Certificate2? Load(string? path, string? keyPath, string? password)
    {
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }
        return path.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".p12", StringComparison.OrdinalIgnoreCase)
            ? X509CertificateLoader.LoadPkcs12FromFile(path, password)
            : X509Certificate2.CreateFromPemFile(path, keyPath);
    }
}
