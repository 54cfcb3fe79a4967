using System.Runtime.CompilerServices;

namespace OptOutRegistry.Grpc;

/// <summary>A stream of messages to read, e.g. the request stream on the server or the response stream on the client.</summary>
public interface IAsyncStreamReader<out T>
{
    /// <summary>The message read by the last successful <see cref="MoveNext"/>.</summary>
    T Current { get; }

    /// <summary>Reads the next message; false at the end of the stream.</summary>
    Task<bool> MoveNext(CancellationToken cancellationToken = default);
}

/// <summary>A stream of response messages written by a server handler.</summary>
public interface IServerStreamWriter<in T>
{
    /// <summary>Writes and flushes one message.</summary>
    Task WriteAsync(T message, CancellationToken cancellationToken = default);
}

/// <summary>A stream of request messages written by a client.</summary>
public interface IClientStreamWriter<in T>
{
    /// <summary>Writes and flushes one message.</summary>
    Task WriteAsync(T message, CancellationToken cancellationToken = default);

    /// <summary>Ends the request stream (sends END_STREAM).</summary>
    Task CompleteAsync();
}

/// <summary>Extensions for <see cref="IAsyncStreamReader{T}"/>.</summary>
public static class AsyncStreamReaderExtensions
{
    /// <summary>Reads every remaining message of the stream as an async sequence.</summary>
    public static IAsyncEnumerable<T> ReadAllAsync<T>(this IAsyncStreamReader<T> reader, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return ReadAllCore(reader, ct);
    }

    private static async IAsyncEnumerable<T> ReadAllCore<T>(IAsyncStreamReader<T> reader, [EnumeratorCancellation] CancellationToken ct)
    {
        while (await reader.MoveNext(ct).ConfigureAwait(false))
        {
            yield return reader.Current;
        }
    }
}
