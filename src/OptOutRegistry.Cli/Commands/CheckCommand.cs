using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Cli.Common;
using OptOutRegistry.Cli.Registry;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Core.Model;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Cli.Commands;

/// <summary>
/// <c>optout check [--purpose P] [--as-of T] [--json] SUBJECT… | -</c>: one line per subject with its verdict and
/// provenance, in input order. Subjects travel through <c>Check.CheckStream</c> in batches of up to 1,000, so a million
/// URLs piped on stdin stream through one call. Exit status 0 whatever the verdicts; non-zero only on errors.
/// </summary>
internal static class CheckCommand
{
    private const int BatchSize = 1000;
    private const int MaxInFlight = 8;

    public static Command Create()
    {
        var subjects = new Argument<string[]>("subject")
        {
            Description = "URLs, sha256 digests (64 hex), ISCC codes (ISCC:…) or identifiers (isbn:…, doi:…); '-' reads one per line from stdin",
            Arity = ArgumentArity.OneOrMore,
        };
        var purpose = new Option<string>("--purpose")
        {
            Description = "The intended use: all, train-ai, train-genai, ai-use, search. Default: all",
            DefaultValueFactory = _ => "all",
        };
        var asOf = new Option<string?>("--as-of")
        {
            Description = "Answer as the registry stood at this instant (RFC 3339, e.g. 2026-01-18T00:00:00Z). Default: now",
        };
        var command = new Command("check", "Check subjects against the registry: DISALLOWED, ALLOWED or UNKNOWN with provenance.")
        {
            subjects,
            purpose,
            asOf,
        };
        CommonOptions.AddTo(command);
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var (server, key, json) = CommonOptions.Read(parseResult);
            try
            {
                if (!UsageCategories.TryParse(parseResult.GetValue(purpose), out var category))
                {
                    throw new ArgumentException($"--purpose: '{parseResult.GetValue(purpose)}' is not one of all, train-ai, train-genai, ai-use, search");
                }

                Timestamp? instant = null;
                if (parseResult.GetValue(asOf) is { } text)
                {
                    if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
                    {
                        throw new ArgumentException($"--as-of: '{text}' is not an RFC 3339 instant");
                    }

                    instant = Timestamp.FromDateTimeOffset(t);
                }

                var template = new Pb.CheckBatchRequest
                {
                    Purpose = Snapshots.ProtoConvert.ToProto(category),
                    AsOf = instant,
                    IncludeMatches = true,
                };
                await using var client = CheckClient.Create(server, new CheckClientOptions { ApiKey = key });
                var list = parseResult.GetValue(subjects)!;
                var input = list is ["-"] ? ReadLines(Console.OpenStandardInput(), cancellationToken) : list.ToAsyncEnumerable();
                await RunAsync(client, template, input, json, cancellationToken);
                return 0;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return await RegistryCli.ReportAsync(ex, server);
            }
        });
        return command;
    }

    /// <summary>Classifies a subject by its shape.</summary>
    public static Pb.Subject ToSubject(string text)
    {
        var s = text.Trim();
        if (s.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || s.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            return new Pb.Subject { Url = s };
        }

        if (s.StartsWith("ISCC:", StringComparison.OrdinalIgnoreCase))
        {
            return new Pb.Subject { Iscc = s };
        }

        var hex = s.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase) ? s[7..] : s;
        if (hex.Length == 64 && hex.All(char.IsAsciiHexDigit))
        {
            return new Pb.Subject { Sha256 = hex };
        }

        var colon = s.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0 && s[..colon].ToLowerInvariant() is "isbn" or "issn" or "ismn" or "isrc" or "iswc" or "isni" or "doi")
        {
            return new Pb.Subject { Identifier = s };
        }

        // Anything else is a URL; the server says why it cannot be checked (e.g. "url: not an absolute http(s) URL").
        return new Pb.Subject { Url = s };
    }

    private static async Task RunAsync(CheckClient client, Pb.CheckBatchRequest template, IAsyncEnumerable<string> input, bool json, CancellationToken cancellationToken)
    {
        using var call = client.OpenStream(cancellationToken);
        var sent = Channel.CreateBounded<string[]>(MaxInFlight);
        var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16) { AutoFlush = false };
        await using (stdout)
        {
            var writer = Task.Run(async () =>
            {
                await foreach (var batch in sent.Reader.ReadAllAsync(cancellationToken))
                {
                    if (!await call.ResponseStream.MoveNext(cancellationToken))
                    {
                        throw new IOException("the server closed the check stream early");
                    }

                    var response = call.ResponseStream.Current;
                    for (var i = 0; i < batch.Length; i++)
                    {
                        Write(stdout, batch[i], response.Results[i], json);
                    }

                    await stdout.FlushAsync(cancellationToken);
                }
            }, cancellationToken);

            var lines = Channel.CreateBounded<string>(new BoundedChannelOptions(BatchSize * 4) { SingleReader = true, SingleWriter = true });
            var producer = Task.Run(async () =>
            {
                try
                {
                    await foreach (var line in input.WithCancellation(cancellationToken))
                    {
                        if (line.Length > 0)
                        {
                            await lines.Writer.WriteAsync(line, cancellationToken);
                        }
                    }
                }
                finally
                {
                    lines.Writer.TryComplete();
                }
            }, cancellationToken);

            var buffer = new List<string>(BatchSize);
            try
            {
                while (await lines.Reader.WaitToReadAsync(cancellationToken))
                {
                    // Send what is available now (up to 1,000): a pipe fills whole batches, a person typing gets an
                    // answer per line.
                    while (buffer.Count < BatchSize && lines.Reader.TryRead(out var line))
                    {
                        buffer.Add(line);
                    }

                    var request = template.Clone();
                    foreach (var subject in buffer)
                    {
                        request.Subjects.Add(ToSubject(subject));
                    }

                    await sent.Writer.WriteAsync([.. buffer], cancellationToken);
                    await call.RequestStream.WriteAsync(request, cancellationToken);
                    buffer.Clear();
                }

                await call.RequestStream.CompleteAsync();
            }
            finally
            {
                sent.Writer.TryComplete();
            }

            await producer;
            await writer;
        }
    }

    private static void Write(StreamWriter output, string subject, Pb.CheckResult result, bool json)
    {
        var verdict = result.Verdict switch
        {
            Pb.Verdict.Disallowed => "DISALLOWED",
            Pb.Verdict.Allowed => "ALLOWED",
            _ => "UNKNOWN",
        };
        if (json)
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("subject", subject);
                w.WriteString("verdict", verdict);
                if (result.Error.Length > 0)
                {
                    w.WriteString("error", result.Error);
                }

                w.WriteStartArray("matches");
                foreach (var m in result.Matches)
                {
                    w.WriteStartObject();
                    w.WriteString("reservation_id", m.ReservationId);
                    w.WriteString("holder_id", m.HolderId);
                    if (m.HolderName.Length > 0)
                    {
                        w.WriteString("holder_name", m.HolderName);
                    }

                    w.WriteString("selector_kind", ((SelectorKind)((int)m.SelectorKind - 1)).ToWireName());
                    w.WriteString("selector", m.Selector);
                    w.WriteBoolean("verified", m.Verified);
                    if (m.PolicyUrl.Length > 0)
                    {
                        w.WriteString("policy_url", m.PolicyUrl);
                    }

                    w.WriteString("decided_by", ((UsageCategory)((int)m.DecidedBy - 1)).ToWireName());
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            output.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
            return;
        }

        output.Write(subject);
        output.Write('\t');
        output.Write(verdict);
        if (result.Error.Length > 0)
        {
            output.Write("\terror: ");
            output.Write(result.Error);
        }

        foreach (var m in result.Matches)
        {
            output.Write('\t');
            output.Write(m.ReservationId);
            output.Write(' ');
            output.Write(((SelectorKind)((int)m.SelectorKind - 1)).ToWireName());
            output.Write(":");
            output.Write(m.Selector);
            output.Write(m.Verified ? " verified" : " unverified");
            if (m.PolicyUrl.Length > 0)
            {
                output.Write(" policy=");
                output.Write(m.PolicyUrl);
            }
        }

        output.WriteLine();
    }

    private static async IAsyncEnumerable<string> ReadLines(Stream stream, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, false, 1 << 16);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            yield return line.Trim();
        }
    }
}
