using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OptOutRegistry.Client;
using OptOutRegistry.Grpc;
using static OptOutRegistry.Integration.Tests.Registry.RegistryTestHelpers;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Registry;

/// <summary>
/// Host verification against a local test site (Kestrel on loopback serving the well-known file and a home page with the
/// meta element) and a tiny DNS responder on loopback UDP; the registry connects to them through
/// <c>verification:connect-address</c> / <c>verification:dns-server</c>, with the real host names in Host headers and queries.
/// </summary>
public sealed class HostVerificationTests : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, string> _wellKnown = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, string> _homePages = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, string> _txt = new(StringComparer.OrdinalIgnoreCase);
    private readonly CancellationTokenSource _stop = new();
    private WebApplication _site = null!;
    private UdpClient _dns = null!;
    private Task _dnsLoop = null!;
    private ServerFixture _server = null!;
    private RegistryClient _anonymous = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _site = builder.Build();
        _site.MapGet("/.well-known/optout-registry.txt", (HttpContext http) =>
            _wellKnown.TryGetValue(http.Request.Host.Host, out var token) ? Results.Text(token + "\n") : Results.NotFound());
        _site.MapGet("/", (HttpContext http) =>
            _homePages.TryGetValue(http.Request.Host.Host, out var html) ? Results.Content(html, "text/html; charset=utf-8") : Results.NotFound());
        await _site.StartAsync();
        var sitePort = new Uri(_site.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;

        _dns = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        _dnsLoop = ServeDnsAsync(_stop.Token);
        var dnsPort = ((IPEndPoint)_dns.Client.LocalEndPoint!).Port;

        _server = await ServerFixture.StartAsync(
            "--verification:scheme", "http",
            "--verification:port", sitePort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--verification:connect-address", "127.0.0.1",
            "--verification:dns-server", "127.0.0.1:" + dnsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--verification:timeout-seconds", "5");
        _anonymous = RegistryClient.Create(_server.GrpcAddress);
    }

    public async Task DisposeAsync()
    {
        _anonymous.Dispose();
        await _server.DisposeAsync();
        await _stop.CancelAsync();
        _dns.Dispose();
        await _site.StopAsync();
        await _site.DisposeAsync();
    }

    [Theory]
    [InlineData("well-known", "wk.example.kz", Pb.VerificationMethod.WellKnown)]
    [InlineData("meta", "meta.example.kz", Pb.VerificationMethod.HtmlMeta)]
    [InlineData("dns", "dns.example.kz", Pb.VerificationMethod.DnsTxt)]
    public async Task Verification_TokenPublished_HostVerifiedAndBroadSelectorsAccepted(string how, string host, Pb.VerificationMethod expected)
    {
        var (holder, created) = await NewHolderAsync(_anonymous, "Verifier " + how);
        await AssertStatusAsync(StatusCode.PermissionDenied, () => holder.CreateReservationAsync(Spec(new Pb.Selector { Host = host })));

        var started = await holder.StartHostVerificationAsync(host.ToUpperInvariant());
        Assert.Equal(host, started.Host);
        Assert.Equal(3, started.Instructions.Count);
        Publish(how, host, started.Token);

        // UNSPECIFIED tries each method in turn; the one that holds the token wins.
        var completed = await holder.CompleteHostVerificationAsync(host);
        Assert.Equal(expected, completed.Method);
        AssertValid(completed.Receipt, PublicKeyPem(_server));
        Assert.Equal(created.Holder.Id, completed.Receipt.Event.HostVerified.HolderId);

        var hosts = await holder.ListVerifiedHostsAsync();
        Assert.Equal([host], hosts.Hosts);
        var reservation = await holder.CreateReservationAsync(Spec(new Pb.Selector { Host = host, IncludeSubdomains = true }));
        Assert.True(reservation.Reservation.SelectorVerified[0]);
        var pattern = await holder.CreateReservationAsync(Spec(new Pb.Selector { Pattern = new Pb.PathPattern { Host = host, Path = "/photos/*.jpg$" } }));
        Assert.True(pattern.Reservation.SelectorVerified[0]);
    }

    [Fact]
    public async Task Verification_WrongTokenPublished_FailsNamingEachMethodAndVerifiesNothing()
    {
        var (holder, _) = await NewHolderAsync(_anonymous, "Wrong Token");
        const string host = "wrong.example.kz";
        var started = await holder.StartHostVerificationAsync(host);
        Publish("well-known", host, started.Token + "x");
        Publish("meta", host, "oorv-someone-elses");
        var ex = await AssertStatusAsync(StatusCode.FailedPrecondition, () => holder.CompleteHostVerificationAsync(host));
        Assert.Contains("well-known:", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("meta:", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("dns:", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Empty((await holder.ListVerifiedHostsAsync()).Hosts);

        // Another holder cannot complete with the first holder's published token: challenges are per holder.
        Publish("well-known", host, started.Token);
        var (other, _) = await NewHolderAsync(_anonymous, "Other Holder");
        await AssertStatusAsync(StatusCode.FailedPrecondition, () => other.CompleteHostVerificationAsync(host, Pb.VerificationMethod.WellKnown));
        Assert.Equal(Pb.VerificationMethod.WellKnown, (await holder.CompleteHostVerificationAsync(host, Pb.VerificationMethod.WellKnown)).Method);
    }

    [Theory]
    [InlineData("co.uk", "public suffix")]
    [InlineData("https://example.kz/", "bare host name")]
    [InlineData("", "is required")]
    [InlineData("exa mple.kz", "not a valid host")]
    public async Task StartVerification_BadHost_InvalidArgumentNamingHost(string host, string reason)
    {
        var (holder, _) = await NewHolderAsync(_anonymous, "Bad Host " + reason);
        var ex = await AssertStatusAsync(StatusCode.InvalidArgument, () => holder.StartHostVerificationAsync(host));
        Assert.StartsWith("host: ", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(reason, ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CliVerifyHost_StartThenComplete_RecordsTheHost()
    {
        var (holder, created) = await NewHolderAsync(_anonymous, "Cli Verifier");
        var env = new Dictionary<string, string?> { ["OPTOUT_SERVER"] = _server.GrpcAddress, ["OPTOUT_KEY"] = created.ApiKey };
        var start = await Cli.RunAsync(env, null, "verify-host", "cli.example.kz");
        Assert.True(start.ExitCode == 0, start.StdErr);
        var token = start.StdOut.Split('\n').First(l => l.StartsWith("token:", StringComparison.Ordinal))["token:".Length..].Trim();
        Publish("well-known", "cli.example.kz", token);
        var complete = await Cli.RunAsync(env, null, "verify-host", "cli.example.kz", "--complete", "--method", "well-known");
        Assert.True(complete.ExitCode == 0, complete.StdErr);
        Assert.StartsWith("verified cli.example.kz", complete.StdOut, StringComparison.Ordinal);

        var adminEnv = new Dictionary<string, string?> { ["OPTOUT_SERVER"] = _server.GrpcAddress, ["OPTOUT_KEY"] = _server.AdminKey };
        var recorded = await Cli.RunAsync(adminEnv, null, "verify-host", "contract.example.kz", "--holder", created.Holder.Id, "--note", "contract 7");
        Assert.True(recorded.ExitCode == 0, recorded.StdErr);
        Assert.Equal(["cli.example.kz", "contract.example.kz"], (await holder.ListVerifiedHostsAsync()).Hosts.Order());
    }

    private void Publish(string how, string host, string token)
    {
        switch (how)
        {
            case "well-known":
                _wellKnown[host] = token;
                break;
            case "meta":
                _homePages[host] = $"<!doctype html><html><head><title>Home</title><META NAME=\"optout-registry-verification\" content=\"{token}\"></head><body>hi</body></html>";
                break;
            default:
                _txt[host] = "optout-registry-verification=" + token;
                break;
        }
    }

    /// <summary>Answers TXT queries (RFC 1035 §4.1) for the names in <see cref="_txt"/>; NXDOMAIN for the rest.</summary>
    private async Task ServeDnsAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            UdpReceiveResult request;
            try
            {
                request = await _dns.ReceiveAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            var query = request.Buffer;
            var offset = 12;
            var labels = new List<string>();
            while (query[offset] != 0)
            {
                labels.Add(Encoding.ASCII.GetString(query, offset + 1, query[offset]));
                offset += 1 + query[offset];
            }

            var questionEnd = offset + 1 + 4;
            var name = string.Join('.', labels);
            var response = new List<byte>(query[..questionEnd]);
            response[2] = 0x81; // QR, RD
            var found = _txt.TryGetValue(name, out var text);
            response[3] = (byte)(found ? 0x80 : 0x83); // RA, RCODE 0 or 3
            response[6] = 0;
            response[7] = (byte)(found ? 2 : 0); // two answers: a decoy record, then ours
            if (found)
            {
                AddTxt(response, "v=spf1 -all");
                AddTxt(response, text!);
            }

            await _dns.SendAsync(response.ToArray(), request.RemoteEndPoint, cancellationToken);
        }
    }

    private static void AddTxt(List<byte> response, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        response.AddRange([0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60]); // pointer to the question name, TXT, IN, TTL 60
        var rdLength = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(rdLength, (ushort)(bytes.Length + 1));
        response.AddRange(rdLength);
        response.Add((byte)bytes.Length);
        response.AddRange(bytes);
    }
}
