using OptOutRegistry.Server;

return await ServerHost.RunAsync(args, CancellationToken.None);
