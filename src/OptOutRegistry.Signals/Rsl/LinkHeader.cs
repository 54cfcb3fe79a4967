namespace OptOutRegistry.Signals.Rsl;

/// <summary>
/// RSL licence discovery in HTTP <c>Link</c> headers (RFC 8288): <c>&lt;https://…/license.xml&gt;; rel="license";
/// type="application/rsl+xml"</c>. Only the target URLs with <c>rel</c> containing <c>license</c> are returned.
/// </summary>
public static class LinkHeader
{
    /// <summary>Finds <c>rel="license"</c> targets in one or more Link header values.</summary>
    public static List<(string Url, string? Type)> FindLicenses(IEnumerable<string> values)
    {
        var result = new List<(string, string?)>();
        foreach (var value in values)
        {
            var s = value.AsSpan();
            while (true)
            {
                var open = s.IndexOf('<');
                if (open < 0)
                {
                    break;
                }

                var close = s[open..].IndexOf('>');
                if (close < 0)
                {
                    break;
                }

                var url = s.Slice(open + 1, close - 1).Trim().ToString();
                s = s[(open + close + 1)..];
                var next = s.IndexOf('<');
                var paramsPart = next < 0 ? s : s[..next];
                string? rel = null, type = null;
                foreach (var r in paramsPart.Split(';'))
                {
                    var p = paramsPart[r].Trim().TrimEnd(',').Trim();
                    var eq = p.IndexOf('=');
                    if (eq <= 0)
                    {
                        continue;
                    }

                    var name = p[..eq].Trim();
                    var val = p[(eq + 1)..].Trim().Trim('"').ToString();
                    if (name.Equals("rel", StringComparison.OrdinalIgnoreCase))
                    {
                        rel = val;
                    }
                    else if (name.Equals("type", StringComparison.OrdinalIgnoreCase))
                    {
                        type = val;
                    }
                }

                if (rel is not null && rel.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(x => x.Equals("license", StringComparison.OrdinalIgnoreCase)))
                {
                    result.Add((url, type));
                }
            }
        }

        return result;
    }
}
