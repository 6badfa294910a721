using SecurePlatform.Audit.Apis;
using SecurePlatform.Audit.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseServiceDefaults();
app.MapDefaultEndpoints();
app.MapAuditApi();

app.Run();
