using System.IO.Compression;
using System.Text;

namespace OptOutRegistry.Filtering.Tests;

/// <summary>Generates WARC 1.1 records (ISO 28500) and Common Crawl-style gzip files (one member per record).</summary>
internal static class WarcFixture
{
    private static int s_id;

    public static string Record(string type, string? target, string contentType, string block)
    {
        var length = Encoding.UTF8.GetByteCount(block);
        var sb = new StringBuilder("WARC/1.1\r\n");
        sb.Append("WARC-Type: ").Append(type).Append("\r\n");
        sb.Append("WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-").Append((++s_id).ToString("D12", System.Globalization.CultureInfo.InvariantCulture)).Append(">\r\n");
        sb.Append("WARC-Date: 2026-02-01T00:00:00Z\r\n");
        if (target is not null) { sb.Append("WARC-Target-URI: ").Append(target).Append("\r\n"); }
        sb.Append("Content-Type: ").Append(contentType).Append("\r\n");
        sb.Append("Content-Length: ").Append(length).Append("\r\n\r\n").Append(block).Append("\r\n\r\n");
        return sb.ToString();
    }

    public static string Response(string target, string mediaType, string body) =>
        Record("response", target, "application/http; msgtype=response",
            $"HTTP/1.1 200 OK\r\nContent-Type: {mediaType}\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");

    public static byte[] GzipMembers(IEnumerable<string> records)
    {
        using var output = new MemoryStream();
        foreach (var record in records)
        {
            using var member = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true);
            member.Write(Encoding.UTF8.GetBytes(record));
        }

        return output.ToArray();
    }

    public static byte[] Gunzip(byte[] data)
    {
        using var gzip = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
        using var output = new MemoryStream();
        gzip.CopyTo(output);
        return output.ToArray();
    }

    // Approximate member count: occurrences of the gzip magic + deflate method (RFC 1952 §2.3.1); good enough for
    // the small fixtures here, whose compressed bodies are checked separately by decompressing.
    public static int CountMembers(byte[] data)
    {
        var count = 0;
        for (var i = 0; i + 3 < data.Length; i++)
        {
            if (data[i] == 0x1F && data[i + 1] == 0x8B && data[i + 2] == 8 )
            {
                count++;
            }
        }

        return count;
    }
}
