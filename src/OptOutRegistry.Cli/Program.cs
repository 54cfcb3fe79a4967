using System.CommandLine;
using OptOutRegistry.Cli.Commands;

// The `optout` command. Each subcommand lives in Commands/ and registers itself here with one line,
// so this file stays a composition root.
var root = new RootCommand("optout — the OptOutRegistry command line: run the registry, register and check AI-training opt-outs.");
root.Subcommands.Add(ServeCommand.Create());

return await root.Parse(args).InvokeAsync();
