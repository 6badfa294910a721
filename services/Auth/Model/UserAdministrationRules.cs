using System.Globalization;
using System.Text;
using SecurePlatform.ServiceDefaults.Validation;

namespace SecurePlatform.Auth.Model;

/// <summary>An account's state as the admin API filters it.</summary>
public enum UserState
{
    Active,
    Disabled,
}

/// <summary>A parsed <c>GET /admin/users</c> query: every filter optional, the cursor the id after which the page starts.</summary>
public sealed record UserListQuery(string? EmailPrefix, string? Role, UserState? State, string? After, int Limit);

/// <summary>
/// The rules of the admin users API that need no host: query parsing and the opaque cursor, the role names an admin may
/// set, and the last-administrator rule.
/// </summary>
public static class UserAdministrationRules
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;
    public const int MaxEmailPrefixLength = 254;

    /// <summary>The roles an administrator may grant or remove (the ones the migration seeds).</summary>
    public static readonly IReadOnlyList<string> KnownRoles = [RoleNames.Admin, RoleNames.User];

    // Versioned so the cursor's inside can change without old cursors being misread.
    private const string CursorPrefix = "u1:";

    /// <summary>
    /// Pages are ordered by account id: a UUIDv7, so creation order, unique and never reused, which keeps the order
    /// stable while accounts are added or removed between pages. The cursor is the last id of the page, wrapped.
    /// </summary>
    public static string Cursor(string lastId) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(CursorPrefix + lastId)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The account id a cursor names; null for anything this API did not hand out.</summary>
    public static string? ReadCursor(string cursor)
    {
        if (cursor.Length is 0 or > 100)
        {
            return null;
        }
        var base64 = cursor.Replace('-', '+').Replace('_', '/');
        base64 = base64.PadRight(base64.Length + (4 - base64.Length % 4) % 4, '=');
        var bytes = new byte[base64.Length];
        if (!Convert.TryFromBase64String(base64, bytes, out var length))
        {
            return null;
        }
        var text = Encoding.UTF8.GetString(bytes, 0, length);
        return text.StartsWith(CursorPrefix, StringComparison.Ordinal) && Guid.TryParse(text[CursorPrefix.Length..], out var id)
            ? id.ToString()
            : null;
    }

    /// <summary>The query, or the errors by field (query parameter name) when a value is not valid.</summary>
    public static (UserListQuery? Query, FieldErrors Errors) ParseQuery(string? email, string? role, string? state, string? cursor, string? limit)
    {
        var errors = new FieldErrors();
        string? prefix = null;
        if (email is not null)
        {
            prefix = email.Trim();
            if (prefix.Length is 0 or > MaxEmailPrefixLength || prefix.Any(char.IsControl))
            {
                errors.Add("email", "format", $"An email prefix is 1 to {MaxEmailPrefixLength} characters without control characters.");
            }
        }
        if (role is not null && !KnownRoles.Contains(role, StringComparer.Ordinal))
        {
            errors.Add("role", "unknownRole", $"The role is one of: {string.Join(", ", KnownRoles)}.");
        }
        UserState? parsedState = state switch
        {
            null => null,
            "active" => UserState.Active,
            "disabled" => UserState.Disabled,
            _ => null,
        };
        if (state is not null && parsedState is null)
        {
            errors.Add("state", "unknownState", "The state is active or disabled.");
        }
        string? after = null;
        if (cursor is not null && (after = ReadCursor(cursor)) is null)
        {
            errors.Add("cursor", "invalid", "The cursor is not one this API handed out; start again without it.");
        }
        var size = DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size is < 1 or > MaxLimit))
        {
            errors.Add("limit", "range", $"The limit is a whole number from 1 to {MaxLimit}.");
        }
        return errors.Any ? (null, errors) : (new UserListQuery(prefix, role, parsedState, after, size), errors);
    }

    /// <summary>
    /// The platform keeps at least one administrator who can act: an enabled account with the admin role. A change is
    /// refused when its target is such an account, would no longer be one, and no other one exists.
    /// </summary>
    /// <param name="targetIsActiveAdmin">The target is an enabled administrator now.</param>
    /// <param name="targetStaysActiveAdmin">The target would still be one after the change.</param>
    /// <param name="otherActiveAdmins">Enabled administrators other than the target, counted under the lock.</param>
    public static bool LeavesNoAdministrator(bool targetIsActiveAdmin, bool targetStaysActiveAdmin, int otherActiveAdmins) =>
        targetIsActiveAdmin && !targetStaysActiveAdmin && otherActiveAdmins == 0;
}
