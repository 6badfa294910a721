using RabbitMQ.Client;

namespace SecurePlatform.TestSupport;

/// <summary>Looks at a queue of this run's vhost directly.</summary>
public static class RabbitQueue
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

    /// <summary>How many consumers the queue has (0 when it is not declared).</summary>
    public static async Task<uint> ConsumerCountAsync(string queue, string? connectionString = null)
    {
        var factory = new ConnectionFactory { Uri = new Uri(connectionString ?? TestEnvironment.ConnectionString("rabbitmq")) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            return (await channel.QueueDeclarePassiveAsync(queue)).ConsumerCount;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return 0;
        }
    }

    /// <summary>Puts raw bytes on a queue (default exchange), as a broken or hostile producer could.</summary>
    public static async Task SendRawAsync(string queue, string contentType, byte[] body, string? connectionString = null)
    {
        var factory = new ConnectionFactory { Uri = new Uri(connectionString ?? TestEnvironment.ConnectionString("rabbitmq")) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var properties = new BasicProperties { ContentType = contentType, Persistent = true, MessageId = Guid.NewGuid().ToString() };
        await channel.BasicPublishAsync("", queue, mandatory: true, properties, body);
    }
}
