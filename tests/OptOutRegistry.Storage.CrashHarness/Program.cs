// Durability harness (issue 4, item 6): performs acknowledged writes in a tight loop and prints
// "ack <sequence> <reservation id>" to stdout only after each write's task completed, i.e. after commit.
// The test kills this process with SIGKILL at random moments and then checks every printed write is stored.
//
//   dotnet OptOutRegistry.Storage.CrashHarness.dll sqlite <data directory> <run id>
//   dotnet OptOutRegistry.Storage.CrashHarness.dll postgres <connection string> <run id>
using System.Text;
using OptOutRegistry.Storage;
using OptOutRegistry.Storage.Postgres;
using OptOutRegistry.Storage.Sqlite;

if (args.Length != 3 || args[0] is not ("sqlite" or "postgres"))
{
    Console.Error.WriteLine("usage: crash-harness sqlite|postgres <data directory | connection string> <run id>");
    return 2;
}

const string HolderId = "crash-holder";
var runId = args[2];
await using IRegistryStore store = args[0] == "sqlite"
    ? await SqliteRegistryStore.OpenAsync(args[1])
    : PostgresRegistryStore.Create(args[1]);
await store.MigrateAsync();
if (await store.GetHolderAsync(HolderId) is null)
{
    try
    {
        await store.AppendAsync(new Mutation(
            new EventDraft("admin", "holder.created", Encoding.UTF8.GetBytes(HolderId)),
            new CreateHolder(HolderId, "Crash Test Holder", null)));
    }
    catch (StoreException ex) when (ex.Kind == StoreErrorKind.Conflict)
    {
    }
}

var stdout = Console.Out;
for (var i = 0; ; i++)
{
    if (i % 7 == 6)
    {
        // Every seventh round is a bulk batch: all of it or none of it must survive.
        var batch = new Mutation[5];
        for (var j = 0; j < batch.Length; j++)
        {
            batch[j] = Registration($"{runId}-{i}-{j}");
        }

        var committed = await store.AppendBatchAsync(batch);
        for (var j = 0; j < committed.Count; j++)
        {
            stdout.WriteLine($"ack {committed[j].Sequence} {runId}-{i}-{j}");
        }
    }
    else
    {
        var id = $"{runId}-{i}";
        var committed = await store.AppendAsync(Registration(id));
        stdout.WriteLine($"ack {committed.Sequence} {id}");
    }

    stdout.Flush();
}

static Mutation Registration(string id) => new(
    new EventDraft("holder:" + HolderId, "reservation.created", Encoding.UTF8.GetBytes(id)),
    [
        new PutReservation(id, HolderId, ReservationState.Active, null, null,
            new WorkMetadata("Work " + id, ["Crash Tester"], []), "Crash Test Holder", Encoding.UTF8.GetBytes(id)),
    ]);
