using System.Text;

namespace OptOutRegistry.Fuzz;

/// <summary>
/// Seeded input generation: libFuzzer-style byte mutations of corpus seeds (flip, insert, erase, duplicate, splice,
/// "interesting" values, truncation) plus dictionary tokens of the format under test, and purely random inputs.
/// One seed gives one sequence of inputs, so every finding is reproducible from (target, seed, iteration).
/// </summary>
public sealed class Mutator
{
    private static readonly byte[][] s_interestingBytes =
    [
        [0x00], [0xFF], [0x7F], [0x80], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xEF, 0xBB, 0xBF],
        "\r\n"u8.ToArray(), "\n"u8.ToArray(), "\r"u8.ToArray(), "\t"u8.ToArray(), " "u8.ToArray(), "%"u8.ToArray(), "%00"u8.ToArray(),
        "%FF"u8.ToArray(), "\\"u8.ToArray(), "\""u8.ToArray(), "'"u8.ToArray(), "<"u8.ToArray(), ">"u8.ToArray(), "{"u8.ToArray(),
        "}"u8.ToArray(), "["u8.ToArray(), "]"u8.ToArray(), "*"u8.ToArray(), "$"u8.ToArray(), "#"u8.ToArray(), ":"u8.ToArray(),
        "/"u8.ToArray(), "?"u8.ToArray(), "."u8.ToArray(), ".."u8.ToArray(), "-1"u8.ToArray(), "0"u8.ToArray(),
        "9223372036854775807"u8.ToArray(), "18446744073709551616"u8.ToArray(), "1e999"u8.ToArray(), "NaN"u8.ToArray(),
        "xn--"u8.ToArray(), "\u00e9"u8.ToArray(), "\U0001F600"u8.ToArray(), "\u202e"u8.ToArray(), "\u3002"u8.ToArray(),
    ];

    private readonly Random _random;
    private readonly byte[][] _dictionary;

    /// <summary>Creates a mutator; <paramref name="dictionary"/> holds tokens of the format (keywords, delimiters).</summary>
    public Mutator(int seed, IReadOnlyList<string>? dictionary = null)
    {
        _random = new Random(seed);
        var tokens = new List<byte[]>(s_interestingBytes);
        if (dictionary is not null)
        {
            foreach (var token in dictionary)
            {
                tokens.Add(Encoding.UTF8.GetBytes(token));
            }
        }

        _dictionary = [.. tokens];
    }

    /// <summary>The random source (for targets that pick parameters too).</summary>
    public Random Random => _random;

    /// <summary>
    /// The next input: mostly a mutated seed (1–8 stacked mutations), sometimes a splice of two seeds, sometimes
    /// random bytes or a random string of dictionary tokens. Never longer than <paramref name="maxLength"/>.
    /// </summary>
    public byte[] Next(IReadOnlyList<byte[]> seeds, int maxLength)
    {
        var roll = _random.Next(100);
        List<byte> data;
        if (seeds.Count == 0 || roll < 8)
        {
            data = RandomBytes(_random.Next(0, Math.Min(maxLength, 512)));
        }
        else if (roll < 16)
        {
            data = [];
            var tokens = _random.Next(1, 40);
            for (var i = 0; i < tokens; i++)
            {
                data.AddRange(_dictionary[_random.Next(_dictionary.Length)]);
            }
        }
        else
        {
            data = [.. seeds[_random.Next(seeds.Count)]];
            var mutations = 1 + (int)Math.Floor(Math.Pow(_random.NextDouble(), 2) * 8);
            for (var i = 0; i < mutations; i++)
            {
                Mutate(data, seeds);
            }
        }

        if (data.Count > maxLength)
        {
            data.RemoveRange(maxLength, data.Count - maxLength);
        }

        return [.. data];
    }

    /// <summary>Applies one mutation in place.</summary>
    public void Mutate(List<byte> data, IReadOnlyList<byte[]> seeds)
    {
        var count = data.Count;
        switch (_random.Next(12))
        {
            case 0 when count > 0:
                data[_random.Next(count)] ^= (byte)(1 << _random.Next(8));
                break;
            case 1 when count > 0:
                data[_random.Next(count)] = (byte)_random.Next(256);
                break;
            case 2:
                data.Insert(_random.Next(count + 1), (byte)_random.Next(256));
                break;
            case 3 when count > 0:
            {
                var at = _random.Next(count);
                data.RemoveRange(at, Math.Min(count - at, 1 + _random.Next(16)));
                break;
            }

            case 4 when count > 0:
            {
                // Duplicate a chunk (repetition drives nesting and super-linear paths).
                var at = _random.Next(count);
                var length = Math.Min(count - at, 1 + _random.Next(64));
                var chunk = data.GetRange(at, length);
                var times = 1 + _random.Next(_random.Next(2) == 0 ? 4 : 64);
                for (var i = 0; i < times; i++)
                {
                    data.InsertRange(at, chunk);
                }

                break;
            }

            case 5:
            case 6:
                data.InsertRange(_random.Next(count + 1), _dictionary[_random.Next(_dictionary.Length)]);
                break;
            case 7 when count > 0:
            {
                // Truncate.
                var cut = _random.Next(count);
                data.RemoveRange(cut, count - cut);
                break;
            }

            case 8 when seeds.Count > 0:
            {
                // Splice: a head of this input with a tail of another seed.
                var other = seeds[_random.Next(seeds.Count)];
                var cut = _random.Next(count + 1);
                var from = other.Length == 0 ? 0 : _random.Next(other.Length);
                data.RemoveRange(cut, count - cut);
                data.AddRange(other.AsSpan(from).ToArray());
                break;
            }

            case 9 when count > 1:
            {
                var a = _random.Next(count);
                var b = _random.Next(count);
                (data[a], data[b]) = (data[b], data[a]);
                break;
            }

            case 10 when count > 0:
            {
                // Replace a byte with an ASCII digit or letter run (numbers in fields, long tokens).
                var at = _random.Next(count);
                var run = _random.Next(1, 24);
                for (var i = 0; i < run; i++)
                {
                    data.Insert(at, (byte)(_random.Next(2) == 0 ? '0' + _random.Next(10) : 'a' + _random.Next(26)));
                }

                break;
            }

            default:
                data.InsertRange(_random.Next(count + 1), RandomBytes(_random.Next(1, 8)));
                break;
        }
    }

    private List<byte> RandomBytes(int length)
    {
        var bytes = new byte[length];
        if (_random.Next(2) == 0)
        {
            _random.NextBytes(bytes);
        }
        else
        {
            // Printable ASCII: reaches deeper than random binary in text formats.
            for (var i = 0; i < length; i++)
            {
                bytes[i] = (byte)_random.Next(0x20, 0x7F);
            }
        }

        return [.. bytes];
    }
}
