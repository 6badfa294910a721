using SecurePlatform.AppHost.Extensions;

var builder = DistributedApplication.CreateBuilder(args);

var infra = builder.AddInfrastructure();

// The platform's own secrets are parameters: generated once and kept in the AppHost's user secrets in run
// mode (or given as Parameters__<name>), asked for (never written to the output) when publishing.
var authClientSecret = builder.AddParameter("auth-client-secret", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: true);
var clientSecretHashKey = builder.AddParameter("client-secret-hash-key", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: true);
var adminEmail = builder.AddParameter("bootstrap-admin-email", builder.Configuration["Parameters:bootstrap-admin-email"] ?? "admin@secureplatform.local");
var adminPassword = builder.AddParameter("bootstrap-admin-password", new GenerateParameterDefault { MinLength = 20 }, secret: true, persist: true);

var token = builder.AddProject<Projects.Token_Api>("token-service")
    .WithInfrastructure(infra.TokenDb, infra)
    .WithEnvironment("Clients__auth-service__Secret", authClientSecret)
    .WithEnvironment("Token__ClientSecretHashKey", clientSecretHashKey)
    .WithHttpHealthCheck("/health")
    .LaunchBuiltExecutableWhenConfigured();

// One issuer whatever host name a client uses; token-service validates its own access tokens (sessions API),
// and a project gets no discovery entry for itself.
token.WithEnvironment("Token__Issuer", token.GetEndpoint("http"))
    .WithEnvironment("Auth__Authority", token.GetEndpoint("http"));

// The others reference token-service (discovery) but need not wait for it: none calls it while starting, so
// the four start side by side.
var auth = builder.AddProject<Projects.Auth_Api>("auth-service")
    .WithInfrastructure(infra.AuthDb, infra)
    .WithReference(token)
    .WithEnvironment("TokenService__ClientSecret", authClientSecret)
    .WithEnvironment("Bootstrap__AdminEmail", adminEmail)
    .WithEnvironment("Bootstrap__AdminPassword", adminPassword)
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health")
    .LaunchBuiltExecutableWhenConfigured();

var audit = builder.AddProject<Projects.Audit_Api>("audit-service")
    .WithInfrastructure(infra.AuditDb, infra)
    .WithReference(token)
    .WithHttpHealthCheck("/health")
    .LaunchBuiltExecutableWhenConfigured();

var profile = builder.AddProject<Projects.Profile_Api>("profile-service")
    .WithInfrastructure(infra.ProfileDb, infra)
    .WithReference(token)
    .WithReference(auth)  // GET /profiles/me/export reads the caller's own account (GET /auth/account)
    .WithReference(audit) // and the caller's own audit events
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health")
    .LaunchBuiltExecutableWhenConfigured();

// token-service calls back: auth-service checks the hosted login's credentials, profile-service has the profile
// scope's claims for userinfo. Endpoints, not references: the others already reference token-service.
token.WithEnvironment("services__auth-service__http__0", auth.GetEndpoint("http"))
    .WithEnvironment("services__profile-service__http__0", profile.GetEndpoint("http"));

builder.Build().Run();
