using System.CommandLine;
using OptOutRegistry.Cli.Commands;

// The `optout` command. Each subcommand lives in Commands/ and registers itself here with one line,
// so this file stays a composition root.
var root = new RootCommand("optout — the OptOutRegistry command line: run the registry, register and check AI-training opt-outs.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(HolderCommand.Create());
root.Subcommands.Add(KeyCommand.Create());
root.Subcommands.Add(VerifyHostCommand.Create());
root.Subcommands.Add(RegisterCommand.Create());
root.Subcommands.Add(ImportCommand.Create());
root.Subcommands.Add(RevokeCommand.Create());
root.Subcommands.Add(ShowCommand.Create());
root.Subcommands.Add(HistoryCommand.Create());
root.Subcommands.Add(SearchCommand.Create());
root.Subcommands.Add(VerifyReceiptCommand.Create());
root.Subcommands.Add(PublicKeyCommand.Create());
root.Subcommands.Add(SignalsCommand.Create());
root.Subcommands.Add(CheckSiteCommand.Create());
root.Subcommands.Add(CheckCommand.Create());
root.Subcommands.Add(SnapshotCommand.Create());
root.Subcommands.Add(FilterCommand.Create());
root.Subcommands.Add(ReportCommand.Create());

return await root.Parse(args).InvokeAsync();
