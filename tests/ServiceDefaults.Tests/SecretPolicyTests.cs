using SecurePlatform.ServiceDefaults.Security;

namespace SecurePlatform.ServiceDefaults.Tests;

public class SecretPolicyTests
{
    [Theory]
    [InlineData(null, "is missing")]
    [InlineData("", "is missing")]
    [InlineData("postgres", "is a known default value")]
    [InlineData("GUEST", "is a known default value")]
    [InlineData("changeme", "is a known default value")]
    [InlineData("short-Secret1", "is shorter than 16 characters")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaa", "is too repetitive to be a real secret")]
    public void Plain_secrets_that_are_missing_default_or_weak_are_refused(string? value, string reason)
        => Assert.Equal(reason, SecretPolicy.Check(value, SecretFormat.Plain));

    [Fact]
    public void A_long_random_secret_is_accepted()
        => Assert.Null(SecretPolicy.Check("f3a9c1d27be04e58a6c4d9e01b7f2a3c", SecretFormat.Plain));

    [Theory]
    [InlineData("Host=db;Port=5432;Username=postgres;Password=postgres;Database=authdb", "is a known default value")]
    [InlineData("Host=db;Port=5432;Username=postgres;Database=authdb", "has no password")]
    [InlineData("Host=db;Port=5432;Username=postgres;Password=9f2c4e1a7b3d5f60a1c2;Database=authdb", null)]
    public void Npgsql_connection_strings_are_judged_by_their_password(string value, string? reason)
        => Assert.Equal(reason, SecretPolicy.Check(value, SecretFormat.NpgsqlConnectionString));

    [Theory]
    [InlineData("redis:6379", "has no password")]
    [InlineData("redis:6379,password=redis", "is a known default value")]
    [InlineData("redis:6379,password=9f2c4e1a7b3d5f60a1c2,ssl=true", null)]
    public void Redis_connection_strings_are_judged_by_their_password(string value, string? reason)
        => Assert.Equal(reason, SecretPolicy.Check(value, SecretFormat.RedisConnectionString));

    [Theory]
    [InlineData("amqp://guest:guest@rabbitmq:5672", "is a known default value")]
    [InlineData("amqp://rabbitmq:5672", "has no password")]
    [InlineData("amqp://app:9f2c4e1a%2F7b3d5f60a1c2@rabbitmq:5672", null)]
    public void Amqp_uris_are_judged_by_their_password(string value, string? reason)
        => Assert.Equal(reason, SecretPolicy.Check(value, SecretFormat.AmqpUri));

    [Fact]
    public void The_reason_never_contains_the_value()
    {
        const string secret = "p4ss";
        var reason = SecretPolicy.Check($"Host=x;Password={secret}", SecretFormat.NpgsqlConnectionString);
        Assert.NotNull(reason);
        Assert.DoesNotContain(secret, reason);
    }
}
