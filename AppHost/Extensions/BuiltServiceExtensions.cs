using Microsoft.Extensions.Configuration;

namespace SecurePlatform.AppHost.Extensions;

public static class BuiltServiceExtensions
{
    /// <summary>
    /// With <c>AppHost:LaunchBuiltServices=true</c> (./run.sh sets it) the orchestrator starts the project's built
    /// executable instead of <c>dotnet run --no-build --project …</c>: the same binary, environment and working
    /// directory (the project folder), without the SDK evaluating the project first, which cost 4-9 s per service on
    /// the shared 2-core machine. Each service also binds its launch-profile port itself (not proxied): the orchestrator
    /// created its four proxies one after another, about 1 s each, before starting any service. Only for this local run;
    /// tests and <c>dotnet run --project AppHost</c> keep Aspire's defaults. The executable sits beside the AppHost's own output (artifacts/bin/&lt;project&gt;/&lt;pivot&gt;);
    /// a missing one stops the AppHost with a message, never a silent fallback to a stale build.
    /// </summary>
    public static IResourceBuilder<ProjectResource> LaunchBuiltExecutableWhenConfigured(this IResourceBuilder<ProjectResource> project)
    {
        var builder = project.ApplicationBuilder;
        if (!builder.ExecutionContext.IsRunMode || !builder.Configuration.GetValue<bool>("AppHost:LaunchBuiltServices"))
        {
            return project;
        }
        var projectPath = project.Resource.GetProjectMetadata().ProjectPath;
        var name = Path.GetFileNameWithoutExtension(projectPath);
        var appHostOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var executable = Path.Combine(appHostOutput.Parent!.Parent!.FullName, name, appHostOutput.Name, OperatingSystem.IsWindows() ? name + ".exe" : name);
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException($"AppHost:LaunchBuiltServices is set but {executable} does not exist; build the AppHost first.");
        }
        return project
            .WithAnnotation(new ExecutableAnnotation { Command = executable, WorkingDirectory = Path.GetDirectoryName(projectPath)! }, ResourceAnnotationMutationBehavior.Replace)
            .WithEndpoint("http", e => e.IsProxied = false);
    }
}
