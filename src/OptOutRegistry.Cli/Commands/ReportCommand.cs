using System.CommandLine;
using System.Text.Json;
using OptOutRegistry.Filtering;

namespace OptOutRegistry.Cli.Commands;

/// <summary>
/// <c>optout report report.json [--html out.html]</c>: prints a filter run's audit report as Markdown, or renders it
/// as a self-contained HTML page with a chart of removals per holder and selector kind.
/// </summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("report") { Description = "The JSON report written by optout filter --report" };
        var html = new Option<string?>("--html") { Description = "Write a self-contained HTML page here instead of printing Markdown" };
        var command = new Command("report", "Show an optout filter audit report (Markdown), or render it as HTML with a chart.") { file, html };
        command.SetAction((parseResult, _) =>
        {
            var path = parseResult.GetValue(file)!;
            try
            {
                var report = FilterReport.FromJson(File.ReadAllText(path));
                if (parseResult.GetValue(html) is { } output)
                {
                    File.WriteAllText(output, HtmlReport.Render(report));
                }
                else
                {
                    Console.Out.Write(report.ToMarkdown());
                }

                return Task.FromResult(0);
            }
            catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"optout report: {path}: {ex.Message}");
                return Task.FromResult(2);
            }
        });
        return command;
    }
}
