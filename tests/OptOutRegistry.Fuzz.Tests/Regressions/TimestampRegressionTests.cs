using System.Security.Cryptography;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Fuzz.Tests.Regressions;

/// <summary>
/// Fuzz finding: Timestamp.ToDateTimeOffset throws InvalidOperationException outside 0001-01-01..9999-12-31; a snapshot
/// record (or feed event) with such a timestamp escaped RegistryMirror.LoadSnapshot undocumented.
/// </summary>
public sealed class TimestampRegressionTests
{
    [Theory]
    [InlineData(long.MaxValue, 0)]
    [InlineData(-62_135_596_801L, 0)]
    [InlineData(0L, -1)]
    [InlineData(0L, 1_000_000_000)]
    public void LoadSnapshot_WithOutOfRangeValidUntil_ThrowsSnapshotFormatExceptionNamingTheField(long seconds, int nanos)
    {
        var reservation = new Pb.Reservation
        {
            Id = "rsv_1",
            HolderId = "hld_1",
            RegisteredAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)),
            ValidUntil = new Timestamp { Seconds = seconds, Nanos = nanos },
            State = Pb.ReservationState.Active,
            Selectors = { new Pb.Selector { Url = "https://example.com/a" } },
            Statements = { new Pb.UsageStatement { Category = Pb.UsageCategory.TrainAi, Permission = Pb.Permission.Disallow } },
        };
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var file = new MemoryStream();
        using (var writer = new SnapshotWriter(file, new SnapshotHeader(SnapshotKind.Full, 0, -1, DateTimeOffset.UnixEpoch)))
        {
            writer.WriteReservation(reservation);
            writer.Finish(key);
        }

        file.Position = 0;
        using var reader = SnapshotReader.Open(file);
        var ex = Assert.Throws<SnapshotFormatException>(() => new RegistryMirror().LoadSnapshot(reader));
        Assert.Contains("valid_until", ex.Message, StringComparison.Ordinal);
    }
}
