namespace OptOutRegistry.Storage.Tests.Infrastructure;

/// <summary>xunit's lifetime hooks for the shared server class (whose file the benchmarks compile too, without xunit).</summary>
public sealed partial class PostgresServerFixture : IAsyncLifetime;

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServerFixture>
{
    public const string Name = "PostgreSQL server";
}
