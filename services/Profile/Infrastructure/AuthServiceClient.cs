using System.Net.Http.Headers;
using System.Text.Json;

namespace SecurePlatform.Profile.Infrastructure;

/// <summary>
/// The export's account part: auth-service's <c>GET /auth/account</c>, asked with the caller's own access token, so
/// auth-service's authorization and revocation check decide (no privileged back channel). A short budget: an export
/// that waits for a stuck auth-service says so instead (see <see cref="AccountRead"/>).
/// </summary>
public sealed partial class AuthServiceClient(HttpClient http, ILogger<AuthServiceClient> logger)
{
    /// <summary>Service discovery name; resolved from <c>services:auth-service:https:0</c> / <c>http:0</c>.</summary>
    public const string BaseAddress = "https+http://auth-service";

    public const string AccountPath = "/auth/account";

    public static readonly TimeSpan Budget = TimeSpan.FromSeconds(3);

    /// <summary>The account document, or null with the reason in <see cref="Status"/> (<c>ok</c> otherwise).</summary>
    public sealed record AccountRead(JsonElement? Account, string Status);

    public async Task<AccountRead> AccountAsync(AuthenticationHeaderValue bearer, CancellationToken cancellationToken)
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(Budget);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, AccountPath);
            request.Headers.Authorization = bearer;
            using var response = await http.SendAsync(request, budget.Token);
            if (!response.IsSuccessStatusCode)
            {
                LogRefused((int)response.StatusCode);
                return new AccountRead(null, ExportSourceStatus.Failed(response.StatusCode));
            }
            return new AccountRead(await response.Content.ReadFromJsonAsync<JsonElement>(budget.Token), ExportSourceStatus.Ok);
        }
        catch (Exception ex) when (ExportSourceStatus.Of(ex, cancellationToken) is { } status)
        {
            LogUnavailable(status, ex.GetType().Name);
            return new AccountRead(null, status);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "auth-service answered {StatusCode} for the export's account part")]
    private partial void LogRefused(int statusCode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "auth-service {Status} for the export's account part ({ErrorType})")]
    private partial void LogUnavailable(string status, string errorType);
}

/// <summary>What an export's <c>sources</c> say of each part that comes from another service.</summary>
public static class ExportSourceStatus
{
    public const string Ok = "ok";
    public const string TimedOut = "timed out";
    public const string Unavailable = "unavailable";

    public static string Failed(System.Net.HttpStatusCode status) => $"failed ({(int)status})";

    /// <summary>The status of a call that threw, or null when the caller itself went away (then it is not the source's fault).</summary>
    public static string? Of(Exception exception, CancellationToken requestAborted) => exception switch
    {
        _ when requestAborted.IsCancellationRequested => null,
        OperationCanceledException or Polly.Timeout.TimeoutRejectedException => TimedOut,
        HttpRequestException or JsonException or InvalidOperationException or Polly.CircuitBreaker.BrokenCircuitException => Unavailable,
        _ => null,
    };
}
