using Microsoft.AspNetCore.Mvc.Filters;

namespace SecurePlatform.Token.Infrastructure;

/// <summary>
/// The hosted pages' Content-Security-Policy: no script at all, our one stylesheet, no framing. <c>form-action</c>
/// lists 'self' plus the origin the page's form ends up redirecting to (the client's redirect URI): Chrome applies
/// form-action to the redirects after a POST (security-reference D12).
/// </summary>
public sealed class PageSecurityPolicy : IAsyncPageFilter
{
    /// <summary>Where a page's forms lead, once done (a <see cref="Uri"/> or several): set by the page before it renders.</summary>
    public const string FormTargetItem = "sp_form_target";

    public Task OnPageHandlerSelectionAsync(PageHandlerSelectedContext context) => Task.CompletedTask;

    public async Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
    {
        var http = context.HttpContext;
        http.Response.OnStarting(() =>
        {
            var targets = http.Items[FormTargetItem] switch
            {
                Uri uri => [uri],
                IEnumerable<Uri> uris => uris,
                _ => [],
            };
            var target = string.Concat(targets.Where(u => u is { IsAbsoluteUri: true, Scheme: "https" or "http" })
                .Select(u => " " + u.GetLeftPart(UriPartial.Authority)).Distinct(StringComparer.Ordinal));
            http.Response.Headers.ContentSecurityPolicy =
                $"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'{target}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";
            http.Response.Headers.CacheControl = "no-store";
            return Task.CompletedTask;
        });
        await next();
    }
}
