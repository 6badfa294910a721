using RabbitMQ.Client;
using SecurePlatform.TestSupport;

namespace SecurePlatform.Audit.Tests;

/// <summary>Looks at a queue of this run's vhost directly.</summary>
internal static class RabbitQueue
{
    public static async Task<uint> MessageCountAsync(string queue, string? connectionString = null)
    {
        var factory = new ConnectionFactory { Uri = new Uri(connectionString ?? TestEnvironment.ConnectionString("rabbitmq")) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            var ok = await channel.QueueDeclarePassiveAsync(queue);
            return ok.MessageCount;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return 0; // not declared (yet)
        }
    }
}
