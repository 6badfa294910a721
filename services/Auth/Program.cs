using SecurePlatform.Auth.Apis;
using SecurePlatform.Auth.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseServiceDefaults();
app.MapDefaultEndpoints();
app.MapAccountApi();
app.MapSessionApi();
app.MapMfaApi();
app.MapCredentialsApi();
app.MapExternalAccountsApi();
app.MapAccountLifecycleApi();
app.MapAdminUsersApi();

app.Run();
