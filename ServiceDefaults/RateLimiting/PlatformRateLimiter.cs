using System.Diagnostics.CodeAnalysis;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace SecurePlatform.ServiceDefaults.RateLimiting;

/// <summary>Names an endpoint's budget (<see cref="RateLimitingExtensions.RequireRateLimit{TBuilder}"/>); endpoints without one get the ceiling.</summary>
public sealed record RateLimitPolicyMetadata(string Policy);

/// <summary>
/// Which budgets a request of one policy counts against: (policy, partition) pairs. The default is the policy per
/// client IP; a service registers its own where the partition is in the request (token-service: the client id).
/// An empty list means "not limited here" (limited elsewhere, e.g. by the credential check).
/// </summary>
public delegate ValueTask<IReadOnlyList<(string Policy, string Partition)>> RateLimitBudgetResolver(HttpContext http, string clientPartition);

internal sealed class RateLimitBudgetResolvers
{
    public RateLimitBudgetResolvers(IEnumerable<RateLimitingExtensions.IConfigureBudgets> configure)
    {
        foreach (var c in configure)
        {
            c.Apply(this);
        }
    }

    public Dictionary<string, RateLimitBudgetResolver> ByPolicy { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// ASP.NET Core's rate-limiting middleware with this as its global limiter: each request is counted in Redis against
/// its endpoint's policy (or the ceiling), so every replica shares one budget. One round trip per request. The
/// synchronous attempt always defers to the asynchronous one (the middleware then awaits <see cref="AcquireAsyncCore"/>).
/// </summary>
internal sealed class PlatformRateLimiter(RateLimitStore store, RateLimitBudgetResolvers resolvers, IOptions<RateLimitingOptions> options)
    : PartitionedRateLimiter<HttpContext>
{
    private readonly RateLimitingOptions _options = options.Value;

    public override RateLimiterStatistics? GetStatistics(HttpContext resource) => null;

    protected override RateLimitLease AttemptAcquireCore(HttpContext resource, int permitCount) =>
        _options.Enabled ? PlatformLease.Deferred : PlatformLease.Acquired;

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(HttpContext resource, int permitCount, CancellationToken cancellationToken)
    {
        if (!_options.Enabled)
        {
            return PlatformLease.Acquired;
        }
        var policy = resource.GetEndpoint()?.Metadata.GetMetadata<RateLimitPolicyMetadata>()?.Policy ?? RateLimitPolicies.Ceiling;
        var client = ClientPartition.Of(resource.Connection.RemoteIpAddress);
        IReadOnlyList<(string Policy, string Partition)> budgets = resolvers.ByPolicy.TryGetValue(policy, out var resolve)
            ? await resolve(resource, client)
            : [(policy, client)];
        return await CheckAsync(store, budgets, client, cancellationToken);
    }

    /// <summary>Counts the request against <paramref name="budgets"/>: acquired, rejected (429, the longest wait) or unavailable (503).</summary>
    internal static async ValueTask<RateLimitLease> CheckAsync(
        RateLimitStore store, IReadOnlyList<(string Policy, string Partition)> budgets, string client, CancellationToken cancellationToken)
    {
        if (budgets.Count == 0)
        {
            return PlatformLease.Acquired;
        }
        RateLimitCounter[] counters;
        try
        {
            counters = await store.HitAsync(budgets, cancellationToken);
        }
        catch (RateLimitStoreUnavailableException)
        {
            // Fail open only when every budget of the request may (the ceiling); any fail-closed one answers 503.
            return budgets.All(b => store.Options.Policy(b.Policy).FailOpen == true)
                ? PlatformLease.Acquired
                : PlatformLease.Unavailable(budgets[0].Policy, client);
        }
        var verdict = RateLimitVerdict.Of(budgets, counters, store.Options);
        return verdict is { } rejected ? PlatformLease.Rejected(rejected.Policy, client, rejected.RetryAfter) : PlatformLease.Acquired;
    }
}

/// <summary>The pure decision: the first exceeded budget's policy, and the longest wait among the exceeded ones.</summary>
public static class RateLimitVerdict
{
    public static (string Policy, TimeSpan RetryAfter)? Of(
        IReadOnlyList<(string Policy, string Partition)> budgets, IReadOnlyList<RateLimitCounter> counters, RateLimitingOptions options)
    {
        (string Policy, TimeSpan RetryAfter)? verdict = null;
        for (var i = 0; i < budgets.Count; i++)
        {
            if (counters[i].Count <= options.Policy(budgets[i].Policy).PermitLimit)
            {
                continue;
            }
            var wait = counters[i].Remaining > TimeSpan.Zero ? counters[i].Remaining : TimeSpan.FromSeconds(1);
            verdict = verdict is { } seen ? (seen.Policy, wait > seen.RetryAfter ? wait : seen.RetryAfter) : (budgets[i].Policy, wait);
        }
        return verdict;
    }
}

/// <summary>A lease that holds nothing (the budget is a counter in Redis); rejected ones say which policy and how long.</summary>
internal sealed class PlatformLease : RateLimitLease
{
    public static readonly MetadataName<string> PolicyName = MetadataName.Create<string>("secureplatform.policy");
    public static readonly MetadataName<string> ClientName = MetadataName.Create<string>("secureplatform.client");
    public static readonly MetadataName<bool> UnavailableName = MetadataName.Create<bool>("secureplatform.unavailable");

    public static readonly PlatformLease Acquired = new(true, []);

    /// <summary>The synchronous attempt's answer: not acquired, nothing decided (the middleware goes on to the async acquire).</summary>
    public static readonly PlatformLease Deferred = new(false, []);

    private readonly Dictionary<string, object?> _metadata;

    private PlatformLease(bool acquired, Dictionary<string, object?> metadata)
    {
        IsAcquired = acquired;
        _metadata = metadata;
    }

    public static PlatformLease Rejected(string policy, string client, TimeSpan retryAfter) => new(false, new()
    {
        [MetadataName.RetryAfter.Name] = retryAfter,
        [PolicyName.Name] = policy,
        [ClientName.Name] = client,
    });

    public static PlatformLease Unavailable(string policy, string client) => new(false, new()
    {
        [UnavailableName.Name] = true,
        [PolicyName.Name] = policy,
        [ClientName.Name] = client,
    });

    public override bool IsAcquired { get; }

    public override IEnumerable<string> MetadataNames => _metadata.Keys;

    public override bool TryGetMetadata(string metadataName, [NotNullWhen(true)] out object? metadata) =>
        _metadata.TryGetValue(metadataName, out metadata) && metadata is not null;
}
