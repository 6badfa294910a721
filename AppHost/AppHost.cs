var builder = DistributedApplication.CreateBuilder(args);

// Secrets are parameters: generated once and kept in the AppHost's user secrets in run mode,
// asked for (never written to the output) when publishing.
var postgresPassword = builder.AddParameter("postgres-password", new GenerateParameterDefault { MinLength = 24, Special = false }, secret: true, persist: true);
var rabbitPassword = builder.AddParameter("rabbitmq-password", new GenerateParameterDefault { MinLength = 24, Special = false }, secret: true, persist: true);
var authClientSecret = builder.AddParameter("auth-client-secret", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: true);
var clientSecretHashKey = builder.AddParameter("client-secret-hash-key", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: true);
var adminEmail = builder.AddParameter("bootstrap-admin-email", "admin@secureplatform.local");
var adminPassword = builder.AddParameter("bootstrap-admin-password", new GenerateParameterDefault { MinLength = 20 }, secret: true, persist: true);

var postgres = builder.AddPostgres("postgres", password: postgresPassword).WithDataVolume();
var authDb = postgres.AddDatabase("authdb");
var tokenDb = postgres.AddDatabase("tokendb");
var auditDb = postgres.AddDatabase("auditdb");
var profileDb = postgres.AddDatabase("profiledb");
var redis = builder.AddRedis("redis");
var rabbitmq = builder.AddRabbitMQ("rabbitmq", password: rabbitPassword).WithManagementPlugin();

var token = builder.AddProject<Projects.Token_Api>("token-service")
    .WithReference(tokenDb).WaitFor(tokenDb)
    .WithReference(redis).WaitFor(redis)
    .WithReference(rabbitmq).WaitFor(rabbitmq)
    .WithEnvironment("Clients__auth-service__Secret", authClientSecret)
    .WithEnvironment("Token__ClientSecretHashKey", clientSecretHashKey)
    .WithHttpHealthCheck("/health");

// token-service validates its own access tokens (sessions API); a project gets no discovery entry for itself.
token.WithEnvironment("Auth__Authority", token.GetEndpoint("http"));

builder.AddProject<Projects.Auth_Api>("auth-service")
    .WithReference(authDb).WaitFor(authDb)
    .WithReference(redis).WaitFor(redis)
    .WithReference(rabbitmq).WaitFor(rabbitmq)
    .WithReference(token).WaitFor(token)
    .WithEnvironment("TokenService__ClientSecret", authClientSecret)
    .WithEnvironment("Bootstrap__AdminEmail", adminEmail)
    .WithEnvironment("Bootstrap__AdminPassword", adminPassword)
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health");

builder.AddProject<Projects.Audit_Api>("audit-service")
    .WithReference(auditDb).WaitFor(auditDb)
    .WithReference(redis).WaitFor(redis)
    .WithReference(rabbitmq).WaitFor(rabbitmq)
    .WithReference(token).WaitFor(token)
    .WithHttpHealthCheck("/health");

builder.AddProject<Projects.Profile_Api>("profile-service")
    .WithReference(profileDb).WaitFor(profileDb)
    .WithReference(redis).WaitFor(redis)
    .WithReference(rabbitmq).WaitFor(rabbitmq)
    .WithReference(token).WaitFor(token)
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health");

builder.Build().Run();
