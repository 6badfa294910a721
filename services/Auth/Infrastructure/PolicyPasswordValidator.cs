using Microsoft.AspNetCore.Identity;
using SecurePlatform.Auth.Model;

namespace SecurePlatform.Auth.Infrastructure;

/// <summary>
/// <see cref="PasswordPolicy"/> as Identity's only password validator, so that every path through
/// <see cref="UserManager{TUser}"/> (create, add/change password, the bootstrap administrator) applies it.
/// Error codes are the policy's rule names.
/// </summary>
public sealed class PolicyPasswordValidator(PasswordPolicy policy) : IPasswordValidator<User>
{
    public Task<IdentityResult> ValidateAsync(UserManager<User> manager, User user, string? password)
    {
        var violations = policy.Check(password, user.Email);
        return Task.FromResult(violations.Count == 0
            ? IdentityResult.Success
            : IdentityResult.Failed([.. violations.Select(v => new IdentityError { Code = v.Rule, Description = v.Message })]));
    }
}
