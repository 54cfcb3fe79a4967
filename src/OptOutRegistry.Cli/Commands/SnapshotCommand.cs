using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json;
using OptOutRegistry.Cli.Common;
using OptOutRegistry.Cli.Registry;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Cli.Commands;

/// <summary>
/// <c>optout snapshot export --out FILE [--since SEQ]</c> downloads a signed snapshot (or a delta) from the registry;
/// <c>optout snapshot info FILE</c> prints its header and footer; <c>optout snapshot verify FILE</c> checks its digest
/// and signature (with <c>--public-key FILE</c>, or the key fetched from <c>--server</c>). docs/snapshot-format.md.
/// </summary>
internal static class SnapshotCommand
{
    public static Command Create()
    {
        var command = new Command("snapshot", "Export, inspect and verify signed snapshot files for offline checks.");
        command.Subcommands.Add(Export());
        command.Subcommands.Add(Info());
        command.Subcommands.Add(Verify());
        return command;
    }

    private static Command Export()
    {
        var output = new Option<string>("--out") { Description = "File to write", Required = true };
        var since = new Option<long?>("--since") { Description = "Write a delta of the events after this sequence instead of a full snapshot" };
        var command = new Command("export", "Download a signed snapshot (or a delta) from the registry into a file.") { output, since };
        CommonOptions.AddTo(command);
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var (server, _, json) = CommonOptions.Read(parseResult);
            var path = parseResult.GetValue(output)!;
            try
            {
                using var feed = FeedClient.Create(server);
                long asOf;
                var temp = path + ".part";
                await using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write))
                {
                    asOf = await feed.DownloadSnapshotAsync(file, parseResult.GetValue(since), cancellationToken);
                }

                File.Move(temp, path, overwrite: true);
                var size = new FileInfo(path).Length;
                if (json)
                {
                    RegistryCli.WriteJson(new { file = path, as_of_sequence = asOf, bytes = size });
                }
                else
                {
                    Console.WriteLine($"{path}: {(parseResult.GetValue(since) is { } s ? $"delta after {s}" : "snapshot")} as of sequence {asOf}, {size} bytes");
                }

                return 0;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return await RegistryCli.ReportAsync(ex, server);
            }
        });
        return command;
    }

    private static Command Info()
    {
        var file = new Argument<string>("file") { Description = "The snapshot file" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var command = new Command("info", "Print a snapshot file's header, record count and signing key.") { file, json };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            try
            {
                var (header, footer, records, digestOk, _) = Read(parseResult.GetValue(file)!, null);
                Print(parseResult.GetValue(file)!, header, footer, records, digestOk, null, parseResult.GetValue(json));
                return digestOk ? 0 : 1;
            }
            catch (SnapshotFormatException ex)
            {
                await Console.Error.WriteLineAsync($"optout: {ex.Message}");
                return 1;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return await RegistryCli.ReportAsync(ex, null);
            }
        });
        return command;
    }

    private static Command Verify()
    {
        var file = new Argument<string>("file") { Description = "The snapshot file" };
        var publicKey = new Option<string?>("--public-key") { Description = "The registry's public key (SPKI PEM file). Default: fetched from --server" };
        var command = new Command("verify", "Verify a snapshot file's integrity and signature (exit 0 only if both hold).") { file, publicKey };
        CommonOptions.AddTo(command);
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var (server, _, json) = CommonOptions.Read(parseResult);
            try
            {
                string pem;
                if (parseResult.GetValue(publicKey) is { } keyFile)
                {
                    pem = await File.ReadAllTextAsync(keyFile, cancellationToken);
                }
                else
                {
                    using var feed = FeedClient.Create(server);
                    pem = (await feed.GetPublicKeyAsync(cancellationToken)).SpkiPem;
                }

                var (header, footer, records, digestOk, signatureOk) = Read(parseResult.GetValue(file)!, pem);
                Print(parseResult.GetValue(file)!, header, footer, records, digestOk, signatureOk, json);
                if (!digestOk || signatureOk != true)
                {
                    await Console.Error.WriteLineAsync($"optout: {parseResult.GetValue(file)}: {(digestOk ? "the signature does not verify with the registry's key" : "the digest does not match: the file was altered or damaged")}");
                    return 1;
                }

                return 0;
            }
            catch (SnapshotFormatException ex)
            {
                await Console.Error.WriteLineAsync($"optout: {ex.Message}");
                return 1;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return await RegistryCli.ReportAsync(ex, server);
            }
        });
        return command;
    }

    private static (SnapshotHeader Header, SnapshotFooter Footer, long Records, bool DigestOk, bool? SignatureOk) Read(string path, string? publicKeyPem)
    {
        using var reader = SnapshotReader.Open(File.OpenRead(path));
        long records = 0;
        while (reader.TryReadRecord(out var type, out var payload))
        {
            // Every record must decode: a file whose digest matches but carries garbage is still refused.
            try
            {
                if (type == SnapshotRecordType.Reservation)
                {
                    Pb.Reservation.Parser.ParseFrom(payload.Span);
                }
                else
                {
                    Pb.Event.Parser.ParseFrom(payload.Span);
                }
            }
            catch (Google.Protobuf.InvalidProtocolBufferException ex)
            {
                throw new SnapshotFormatException($"snapshot: record {records}: {ex.Message}");
            }

            records++;
        }

        bool? signatureOk = null;
        if (publicKeyPem is not null)
        {
            using var key = ECDsa.Create();
            key.ImportFromPem(publicKeyPem);
            signatureOk = reader.VerifySignature(key.ExportSubjectPublicKeyInfo());
        }

        return (reader.Header, reader.Footer!, records, reader.DigestMatches, signatureOk);
    }

    private static void Print(string path, SnapshotHeader header, SnapshotFooter footer, long records, bool digestOk, bool? signatureOk, bool json)
    {
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["file"] = path,
                ["kind"] = header.Kind.ToString().ToLowerInvariant(),
                ["as_of_sequence"] = header.AsOfSequence,
                ["since_sequence"] = header.SinceSequence,
                ["created_at"] = header.CreatedAt.ToString("O"),
                ["records"] = records,
                ["digest"] = Convert.ToHexStringLower(footer.Digest),
                ["digest_ok"] = digestOk,
                ["key_fingerprint"] = footer.KeyFingerprint,
                ["signature_ok"] = signatureOk,
            }));
            return;
        }

        Console.WriteLine($"file:            {path}");
        Console.WriteLine($"kind:            {header.Kind.ToString().ToLowerInvariant()}");
        Console.WriteLine($"as of sequence:  {header.AsOfSequence}");
        if (header.Kind == SnapshotKind.Delta)
        {
            Console.WriteLine($"since sequence:  {header.SinceSequence}");
        }

        Console.WriteLine($"created at:      {header.CreatedAt:O}");
        Console.WriteLine($"records:         {records} {(header.Kind == SnapshotKind.Full ? "reservations" : "events")}");
        Console.WriteLine($"digest:          {Convert.ToHexStringLower(footer.Digest)} ({(digestOk ? "matches" : "MISMATCH")})");
        Console.WriteLine($"signing key:     {footer.KeyFingerprint}");
        if (signatureOk is { } ok)
        {
            Console.WriteLine($"signature:       {(ok ? "valid (registry key)" : "INVALID")}");
        }
    }
}
