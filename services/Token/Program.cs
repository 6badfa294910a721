using SecurePlatform.Token.Apis;
using SecurePlatform.Token.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseServiceDefaults();
app.MapDefaultEndpoints();
app.MapStaticAssets();
app.MapRazorPages();
app.MapAuthorizationApi();
app.MapExternalSignInApi();
app.MapTokenApi();
app.MapSessionsApi();
app.MapAdminClientsApi();
app.MapAdminSigningKeysApi();
app.MapGrantsApi();

app.Run();
