using SecurePlatform.Auth.Apis;
using SecurePlatform.Auth.Model;
using SecurePlatform.Auth.Services;
using SecurePlatform.Contracts;

namespace SecurePlatform.Auth.Tests;

/// <summary>The admin users API's rules without a host: cursor, query parsing, role lists, the last-administrator rule.</summary>
public class UserAdministrationRulesTests
{
    [Fact]
    public void A_cursor_names_the_id_it_was_made_from_and_nothing_else_reads_as_one()
    {
        var id = Guid.CreateVersion7().ToString();

        Assert.Equal(id, UserAdministrationRules.ReadCursor(UserAdministrationRules.Cursor(id)));
        Assert.DoesNotContain(id, UserAdministrationRules.Cursor(id), StringComparison.Ordinal);
        Assert.Null(UserAdministrationRules.ReadCursor(""));
        Assert.Null(UserAdministrationRules.ReadCursor("not base64 !"));
        Assert.Null(UserAdministrationRules.ReadCursor(Convert.ToBase64String("u1:not-a-guid"u8.ToArray())));
        Assert.Null(UserAdministrationRules.ReadCursor(Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("u0:" + id))));
        Assert.Null(UserAdministrationRules.ReadCursor(new string('A', 101)));
    }

    [Fact]
    public void No_parameters_is_the_first_page_of_everyone_at_the_default_size()
    {
        var (query, errors) = UserAdministrationRules.ParseQuery(null, null, null, null, null);

        Assert.False(errors.Any);
        Assert.Equal(new UserListQuery(null, null, null, null, UserAdministrationRules.DefaultLimit), query);
    }

    [Fact]
    public void Every_parameter_is_parsed()
    {
        var id = Guid.CreateVersion7().ToString();

        var (query, _) = UserAdministrationRules.ParseQuery(" ada@", "admin", "disabled", UserAdministrationRules.Cursor(id), "200");

        Assert.Equal(new UserListQuery("ada@", "admin", UserState.Disabled, id, 200), query);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("201")]
    [InlineData("-1")]
    [InlineData("+5")]
    [InlineData(" 5")]
    [InlineData("5.0")]
    [InlineData("abc")]
    [InlineData("99999999999")]
    public void A_limit_outside_1_to_200_or_not_a_whole_number_names_the_limit(string limit)
    {
        var (query, errors) = UserAdministrationRules.ParseQuery(null, null, null, null, limit);

        Assert.Null(query);
        Assert.Equal(["limit"], errors.Fields);
    }

    [Fact]
    public void Each_bad_parameter_is_named_with_its_rule()
    {
        var (query, errors) = UserAdministrationRules.ParseQuery("  ", "root", "Active", "garbage", "1");

        Assert.Null(query);
        Assert.Equal(["cursor", "email", "role", "state"], errors.Fields.Order(StringComparer.Ordinal));
        Assert.Equal(["unknownRole"], errors.RulesOf("role"));
        Assert.Equal(["unknownState"], errors.RulesOf("state"));
    }

    [Theory]
    // target is an active admin, stays one, other active admins → refused?
    [InlineData(true, false, 0, true)]
    [InlineData(true, false, 1, false)]
    [InlineData(true, true, 0, false)]
    [InlineData(false, false, 0, false)]
    [InlineData(false, true, 0, false)]
    public void Only_removing_the_one_enabled_administrator_is_refused(bool isAdmin, bool staysAdmin, int others, bool refused) =>
        Assert.Equal(refused, UserAdministrationRules.LeavesNoAdministrator(isAdmin, staysAdmin, others));

    [Fact]
    public void Summaries_compare_by_roles_and_flags()
    {
        var a = new UserSummary { Roles = ["admin", "user"], MfaEnabled = true };

        Assert.True(UserAdministration.Same(a, a with { Roles = ["admin", "user"] }));
        Assert.False(UserAdministration.Same(a, a with { Roles = ["user"] }));
        Assert.False(UserAdministration.Same(a, a with { Disabled = true }));
        Assert.False(UserAdministration.Same(a, a with { PasswordChangeRequired = true }));
    }

    [Theory]
    [InlineData(new[] { "admin", "user" }, null)]
    [InlineData(new string[0], null)]
    [InlineData(new[] { "owner" }, "Roles[0]")]
    [InlineData(new[] { "Admin" }, "Roles[0]")]
    [InlineData(new[] { "user", "user" }, "Roles")]
    public void A_role_list_has_known_roles_each_once(string[] roles, string? failingProperty)
    {
        var result = new SetRolesRequestValidator().Validate(new AdminUsersApi.SetRolesRequest(roles));

        Assert.Equal(failingProperty is null, result.IsValid);
        if (failingProperty is not null)
        {
            Assert.Contains(result.Errors, e => e.PropertyName == failingProperty);
        }
    }

    [Fact]
    public void A_missing_role_list_is_refused() =>
        Assert.False(new SetRolesRequestValidator().Validate(new AdminUsersApi.SetRolesRequest(null)).IsValid);
}
