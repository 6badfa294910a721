using SecurePlatform.Profile.Apis;
using SecurePlatform.Profile.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseServiceDefaults();
app.MapDefaultEndpoints();
app.MapProfileApi();
app.MapAvatarApi();
app.MapExportApi();
app.MapAdminProfilesApi();

app.Run();
