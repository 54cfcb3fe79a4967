using System.Text;

namespace OptOutRegistry.Signals.StructuredFields;

/// <summary>
/// Parses HTTP Structured Field values (RFC 9651 §4.2). Failures are returned as data (a message
/// naming the offset and the reason), never thrown: header values come from untrusted servers.
/// </summary>
public static class StructuredFieldParser
{
    /// <summary>Parses a Dictionary field. Several field lines are combined with <c>", "</c> first (§4.2).</summary>
    public static bool TryParseDictionary(IReadOnlyList<string> fieldLines, out SfDictionary dictionary, out string? error) =>
        TryParseDictionary(Combine(fieldLines), out dictionary, out error);

    /// <summary>Parses a Dictionary field value (§4.2.2).</summary>
    public static bool TryParseDictionary(string value, out SfDictionary dictionary, out string? error)
    {
        var p = new Cursor(value);
        dictionary = new SfDictionary([]);
        if (!p.Begin(out error))
        {
            return false;
        }

        var entries = new List<KeyValuePair<string, SfMember>>();
        while (!p.AtEnd)
        {
            if (!p.ParseKey(out var key, out error))
            {
                return false;
            }

            SfMember member;
            if (p.Peek == '=')
            {
                p.Advance();
                if (!p.ParseItemOrInnerList(out member, out error))
                {
                    return false;
                }
            }
            else
            {
                // §4.2.2 step 2.4: a key without a value is Boolean true, with parameters.
                if (!p.ParseParameters(out var parameters, out error))
                {
                    return false;
                }

                member = SfMember.FromItem(new SfItem(SfBareItem.FromBoolean(true), parameters));
            }

            Set(entries, key, member);
            if (!p.AfterMember(out error))
            {
                return false;
            }
        }

        dictionary = new SfDictionary(entries);
        return true;
    }

    /// <summary>Parses a List field (§4.2.1). Several field lines are combined with <c>", "</c> first.</summary>
    public static bool TryParseList(IReadOnlyList<string> fieldLines, out IReadOnlyList<SfMember> list, out string? error) =>
        TryParseList(Combine(fieldLines), out list, out error);

    /// <summary>Parses a List field value (§4.2.1).</summary>
    public static bool TryParseList(string value, out IReadOnlyList<SfMember> list, out string? error)
    {
        var p = new Cursor(value);
        list = [];
        if (!p.Begin(out error))
        {
            return false;
        }

        var members = new List<SfMember>();
        while (!p.AtEnd)
        {
            if (!p.ParseItemOrInnerList(out var member, out error))
            {
                return false;
            }

            members.Add(member);
            if (!p.AfterMember(out error))
            {
                return false;
            }
        }

        list = members;
        return true;
    }

    /// <summary>Parses an Item field (§4.2.3). Several field lines are combined with <c>", "</c> first (which makes an Item fail).</summary>
    public static bool TryParseItem(IReadOnlyList<string> fieldLines, out SfItem item, out string? error) =>
        TryParseItem(Combine(fieldLines), out item, out error);

    /// <summary>Parses an Item field value (§4.2.3).</summary>
    public static bool TryParseItem(string value, out SfItem item, out string? error)
    {
        var p = new Cursor(value);
        item = null!;
        if (!p.Begin(out error) || !p.ParseItem(out item, out error))
        {
            return false;
        }

        p.SkipSp();
        if (!p.AtEnd)
        {
            return p.Fail($"unexpected '{p.Peek}' after the item", out error);
        }

        return true;
    }

    private static string Combine(IReadOnlyList<string> lines) => lines.Count switch
    {
        0 => string.Empty,
        1 => lines[0],
        _ => string.Join(", ", lines),
    };

    private static void Set<T>(List<KeyValuePair<string, T>> entries, string key, T value)
    {
        // §4.2.2: "If dictionary already contains a key this_key, overwrite its value" — position kept.
        for (var i = 0; i < entries.Count; i++)
        {
            if (entries[i].Key == key)
            {
                entries[i] = new(key, value);
                return;
            }
        }

        entries.Add(new(key, value));
    }

    private static bool IsLcAlpha(char c) => c is >= 'a' and <= 'z';

    private static bool IsAlpha(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z');

    private static bool IsDigit(char c) => c is >= '0' and <= '9';

    // RFC 9110 tchar.
    private static bool IsTChar(char c) =>
        IsAlpha(c) || IsDigit(c) || c is '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';

    private struct Cursor(string input)
    {
        private readonly string _s = input;
        private int _pos;
        private int _end = input.Length;

        public readonly bool AtEnd => _pos >= _end;

        public readonly char Peek => _pos < _end ? _s[_pos] : '\0';

        public void Advance() => _pos++;

        public readonly bool Fail(string reason, out string? error)
        {
            error = $"structured field: {reason} at offset {_pos}";
            return false;
        }

        // §4.2 steps 1-3: the value must be ASCII; leading and trailing SP are discarded.
        public bool Begin(out string? error)
        {
            for (var i = 0; i < _s.Length; i++)
            {
                if (_s[i] > 0x7F)
                {
                    _pos = i;
                    return Fail("non-ASCII character", out error);
                }
            }

            while (_pos < _end && _s[_pos] == ' ')
            {
                _pos++;
            }

            while (_end > _pos && _s[_end - 1] == ' ')
            {
                _end--;
            }

            error = null;
            return true;
        }

        public void SkipSp()
        {
            while (_pos < _end && _s[_pos] == ' ')
            {
                _pos++;
            }
        }

        private void SkipOws()
        {
            while (_pos < _end && _s[_pos] is ' ' or '\t')
            {
                _pos++;
            }
        }

        // §4.2.1 steps 2.3-2.7 (shared by Lists and Dictionaries).
        public bool AfterMember(out string? error)
        {
            SkipOws();
            if (AtEnd)
            {
                error = null;
                return true;
            }

            if (Peek != ',')
            {
                return Fail($"expected ',' but found '{Peek}'", out error);
            }

            _pos++;
            SkipOws();
            if (AtEnd)
            {
                return Fail("trailing comma", out error);
            }

            error = null;
            return true;
        }

        public bool ParseItemOrInnerList(out SfMember member, out string? error)
        {
            member = null!;
            if (Peek == '(')
            {
                if (!ParseInnerList(out var items, out var parameters, out error))
                {
                    return false;
                }

                member = SfMember.FromInnerList(items, parameters);
                return true;
            }

            if (!ParseItem(out var item, out error))
            {
                return false;
            }

            member = SfMember.FromItem(item);
            return true;
        }

        // §4.2.1.2
        private bool ParseInnerList(out List<SfItem> items, out SfParameters parameters, out string? error)
        {
            items = [];
            parameters = SfParameters.Empty;
            _pos++; // '('
            while (!AtEnd)
            {
                SkipSp();
                if (Peek == ')')
                {
                    _pos++;
                    return ParseParameters(out parameters, out error);
                }

                if (!ParseItem(out var item, out error))
                {
                    return false;
                }

                items.Add(item);
                if (Peek is not (' ' or ')'))
                {
                    return Fail("inner list items must be separated by a space", out error);
                }
            }

            return Fail("inner list not closed", out error);
        }

        // §4.2.3
        public bool ParseItem(out SfItem item, out string? error)
        {
            item = null!;
            if (!ParseBareItem(out var bare, out error) || !ParseParameters(out var parameters, out error))
            {
                return false;
            }

            item = new SfItem(bare, parameters);
            return true;
        }

        // §4.2.3.2
        public bool ParseParameters(out SfParameters parameters, out string? error)
        {
            parameters = SfParameters.Empty;
            List<KeyValuePair<string, SfBareItem>>? list = null;
            while (Peek == ';')
            {
                _pos++;
                SkipSp();
                if (!ParseKey(out var key, out error))
                {
                    return false;
                }

                var value = SfBareItem.FromBoolean(true);
                if (Peek == '=')
                {
                    _pos++;
                    if (!ParseBareItem(out value, out error))
                    {
                        return false;
                    }
                }

                list ??= [];
                Set(list, key, value);
            }

            if (list is not null)
            {
                parameters = new SfParameters(list);
            }

            error = null;
            return true;
        }

        // §4.2.3.3
        public bool ParseKey(out string key, out string? error)
        {
            key = string.Empty;
            if (!(IsLcAlpha(Peek) || Peek == '*') || AtEnd)
            {
                return Fail(AtEnd ? "expected a key" : $"a key must start with a-z or '*', found '{Peek}'", out error);
            }

            var start = _pos;
            while (!AtEnd && (IsLcAlpha(Peek) || IsDigit(Peek) || Peek is '_' or '-' or '.' or '*'))
            {
                _pos++;
            }

            key = _s[start.._pos];
            error = null;
            return true;
        }

        // §4.2.3.1
        private bool ParseBareItem(out SfBareItem item, out string? error)
        {
            item = default;
            if (AtEnd)
            {
                return Fail("expected an item", out error);
            }

            var c = Peek;
            if (c == '-' || IsDigit(c))
            {
                return ParseNumber(out item, out error);
            }

            switch (c)
            {
                case '"':
                    return ParseString(out item, out error);
                case ':':
                    return ParseByteSequence(out item, out error);
                case '?':
                    return ParseBoolean(out item, out error);
                case '@':
                    return ParseDate(out item, out error);
                case '%':
                    return ParseDisplayString(out item, out error);
            }

            if (IsAlpha(c) || c == '*')
            {
                var start = _pos;
                _pos++;
                while (!AtEnd && (IsTChar(Peek) || Peek is ':' or '/'))
                {
                    _pos++;
                }

                item = SfBareItem.FromToken(_s[start.._pos]);
                error = null;
                return true;
            }

            return Fail($"'{c}' cannot start an item", out error);
        }

        // §4.2.4
        private bool ParseNumber(out SfBareItem item, out string? error)
        {
            item = default;
            var negative = false;
            if (Peek == '-')
            {
                negative = true;
                _pos++;
            }

            if (!IsDigit(Peek) || AtEnd)
            {
                return Fail("a number needs a digit", out error);
            }

            long integerPart = 0;
            var digits = 0;
            var isDecimal = false;
            long fraction = 0;
            var fractionDigits = 0;
            while (!AtEnd)
            {
                var c = Peek;
                if (IsDigit(c))
                {
                    if (isDecimal)
                    {
                        fraction = (fraction * 10) + (c - '0');
                        fractionDigits++;
                    }
                    else
                    {
                        integerPart = (integerPart * 10) + (c - '0');
                    }

                    digits++;
                    _pos++;
                }
                else if (!isDecimal && c == '.')
                {
                    if (digits > 12)
                    {
                        return Fail("a decimal has at most 12 integer digits", out error);
                    }

                    isDecimal = true;
                    _pos++;
                }
                else
                {
                    break;
                }

                if (!isDecimal && digits > 15)
                {
                    return Fail("an integer has at most 15 digits", out error);
                }

                if (isDecimal && fractionDigits > 3)
                {
                    return Fail("a decimal has at most 3 fractional digits", out error);
                }
            }

            if (!isDecimal)
            {
                item = SfBareItem.FromInteger(negative ? -integerPart : integerPart);
                error = null;
                return true;
            }

            if (fractionDigits == 0)
            {
                return Fail("a decimal cannot end with '.'", out error);
            }

            var value = integerPart + (fraction / (decimal)Math.Pow(10, fractionDigits));
            item = SfBareItem.FromDecimal(negative ? -value : value);
            error = null;
            return true;
        }

        // §4.2.5
        private bool ParseString(out SfBareItem item, out string? error)
        {
            item = default;
            _pos++;
            var sb = new StringBuilder();
            while (!AtEnd)
            {
                var c = _s[_pos++];
                if (c == '\\')
                {
                    if (AtEnd)
                    {
                        return Fail("string ends inside an escape", out error);
                    }

                    var next = _s[_pos++];
                    if (next is not ('"' or '\\'))
                    {
                        return Fail($"'\\{next}' is not a valid escape", out error);
                    }

                    sb.Append(next);
                }
                else if (c == '"')
                {
                    item = SfBareItem.FromString(sb.ToString());
                    error = null;
                    return true;
                }
                else if (c is < (char)0x20 or > (char)0x7E)
                {
                    return Fail("control character in a string", out error);
                }
                else
                {
                    sb.Append(c);
                }
            }

            return Fail("string not closed", out error);
        }

        // §4.2.7
        private bool ParseByteSequence(out SfBareItem item, out string? error)
        {
            item = default;
            _pos++;
            var start = _pos;
            while (!AtEnd && Peek != ':')
            {
                var c = Peek;
                if (!(IsAlpha(c) || IsDigit(c) || c is '+' or '/' or '='))
                {
                    return Fail($"'{c}' is not a base64 character", out error);
                }

                _pos++;
            }

            if (AtEnd)
            {
                return Fail("byte sequence not closed", out error);
            }

            var b64 = _s[start.._pos];
            _pos++;

            // §4.2.7: parsers SHOULD NOT fail when '=' padding is missing.
            var firstPad = b64.IndexOf('=');
            var body = firstPad < 0 ? b64 : b64[..firstPad];
            if (firstPad >= 0 && b64.AsSpan(firstPad).ContainsAnyExcept('='))
            {
                return Fail("base64 padding in the middle of a byte sequence", out error);
            }

            if (body.Length % 4 == 1)
            {
                return Fail("invalid base64 length", out error);
            }

            var padded = body.Length % 4 == 0 ? body : body + new string('=', 4 - (body.Length % 4));
            var buffer = new byte[padded.Length / 4 * 3];
            if (!Convert.TryFromBase64String(padded, buffer, out var written))
            {
                return Fail("invalid base64", out error);
            }

            item = SfBareItem.FromBytes(buffer.AsSpan(0, written).ToArray());
            error = null;
            return true;
        }

        // §4.2.8
        private bool ParseBoolean(out SfBareItem item, out string? error)
        {
            item = default;
            _pos++;
            if (Peek is '0' or '1' && !AtEnd)
            {
                item = SfBareItem.FromBoolean(Peek == '1');
                _pos++;
                error = null;
                return true;
            }

            return Fail("a boolean is ?0 or ?1", out error);
        }

        // §4.2.9
        private bool ParseDate(out SfBareItem item, out string? error)
        {
            item = default;
            _pos++;
            if (!ParseNumber(out var number, out error))
            {
                return false;
            }

            if (number.Type != SfBareItemType.Integer)
            {
                return Fail("a date is an integer", out error);
            }

            item = SfBareItem.FromDate(number.Integer);
            return true;
        }

        // §4.2.10
        private bool ParseDisplayString(out SfBareItem item, out string? error)
        {
            item = default;
            _pos++;
            if (Peek != '"' || AtEnd)
            {
                return Fail("a display string starts with %\"", out error);
            }

            _pos++;
            var bytes = new List<byte>();
            while (!AtEnd)
            {
                var c = _s[_pos++];
                if (c is < (char)0x20 or > (char)0x7E)
                {
                    return Fail("control character in a display string", out error);
                }

                if (c == '%')
                {
                    if (_pos + 2 > _end || !IsLowerHex(_s[_pos]) || !IsLowerHex(_s[_pos + 1]))
                    {
                        return Fail("'%' must be followed by two lowercase hex digits", out error);
                    }

                    bytes.Add((byte)((HexValue(_s[_pos]) << 4) | HexValue(_s[_pos + 1])));
                    _pos += 2;
                }
                else if (c == '"')
                {
                    try
                    {
                        var text = new UTF8Encoding(false, true).GetString(bytes.ToArray());
                        item = SfBareItem.FromDisplayString(text);
                        error = null;
                        return true;
                    }
                    catch (DecoderFallbackException)
                    {
                        return Fail("display string is not valid UTF-8", out error);
                    }
                }
                else
                {
                    bytes.Add((byte)c);
                }
            }

            return Fail("display string not closed", out error);
        }

        private static bool IsLowerHex(char c) => c is (>= '0' and <= '9') or (>= 'a' and <= 'f');

        private static int HexValue(char c) => c <= '9' ? c - '0' : c - 'a' + 10;
    }
}
