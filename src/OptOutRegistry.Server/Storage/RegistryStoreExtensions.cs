using OptOutRegistry.Storage;
using OptOutRegistry.Storage.Postgres;
using OptOutRegistry.Storage.Sqlite;
using OptOutRegistry.Transparency;

namespace OptOutRegistry.Server.Storage;

/// <summary>
/// Wires the store and the transparency log's signer into DI (services-common "Store wiring"):
/// SQLite at <c>{data-dir}/registry.db</c> by default, PostgreSQL with <c>--store postgres --postgres "CONNECTION"</c>.
/// The store is opened and migrated on first use; the signing key is loaded or created in the data directory, or at
/// <c>--signing-key FILE</c>.
/// </summary>
public static class RegistryStoreExtensions
{
    /// <summary>Registers <see cref="IRegistryStore"/> and <see cref="TreeHeadSigner"/> as singletons.</summary>
    public static IServiceCollection AddRegistryStore(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var kind = configuration["store"] ?? "sqlite";
        if (!string.Equals(kind, "sqlite", StringComparison.OrdinalIgnoreCase) && !string.Equals(kind, "postgres", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"--store: '{kind}' is not a store; use sqlite (default) or postgres");
        }

        var connectionString = configuration["postgres"];
        if (string.Equals(kind, "postgres", StringComparison.OrdinalIgnoreCase) && string.IsNullOrWhiteSpace(connectionString))
        {
            throw new ArgumentException("--postgres: a connection string is required with --store postgres, e.g. \"Host=db;Database=optout;Username=optout\"");
        }

        services.AddSingleton<IRegistryStore>(sp =>
        {
            var paths = sp.GetRequiredService<ServerPaths>();
            var time = sp.GetService<TimeProvider>();
            // DI factories are synchronous; the store is opened once, at the first resolution (host start).
            return OpenAsync(kind, paths.DataDirectory, connectionString, time).GetAwaiter().GetResult();
        });
        // --signing-key FILE: servers sharing one PostgreSQL database serve one log and must sign its tree heads with one
        // key, so each is pointed at the same key file (a mounted secret). Default: the data directory's own key.
        var signingKey = configuration["signing-key"];
        services.AddSingleton(sp => string.IsNullOrWhiteSpace(signingKey)
            ? TreeHeadSigner.LoadOrCreate(sp.GetRequiredService<ServerPaths>().DataDirectory)
            : TreeHeadSigner.LoadOrCreateFile(signingKey));
        return services;
    }

    private static async Task<IRegistryStore> OpenAsync(string kind, string dataDirectory, string? connectionString, TimeProvider? time)
    {
        IRegistryStore store = string.Equals(kind, "postgres", StringComparison.OrdinalIgnoreCase)
            ? PostgresRegistryStore.Create(connectionString!, time)
            : await SqliteRegistryStore.OpenAsync(dataDirectory, time).ConfigureAwait(false);
        try
        {
            await store.MigrateAsync().ConfigureAwait(false);
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return store;
    }
}
