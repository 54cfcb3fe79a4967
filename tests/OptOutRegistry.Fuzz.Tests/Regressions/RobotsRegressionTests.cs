using System.Text;
using OptOutRegistry.Signals.Robots;

namespace OptOutRegistry.Fuzz.Tests.Regressions;

/// <summary>
/// Fuzz finding (super-linear): a robots.txt group naming n user agents took O(n²) to parse (a List.Contains per
/// user-agent line), and every agent's merged group copied the group's rules: n agents over n rules cost O(n²) time
/// and memory. A 500 KiB file of user-agent lines took tens of seconds. Behaviour must stay RFC 9309 §2.2.1.
/// </summary>
public sealed class RobotsRegressionTests
{
    [Fact]
    public void Parse_GroupOfManyAgentsOverManyRules_AppliesTheGroupToEachAgent()
    {
        var text = new StringBuilder();
        for (var i = 0; i < 5000; i++)
        {
            text.Append("user-agent: bot").Append(i).Append('\n');
        }

        for (var i = 0; i < 5000; i++)
        {
            text.Append("disallow: /d").Append(i).Append('\n');
        }

        var robots = RobotsTxt.Parse(text.ToString());
        Assert.Equal(5000, robots.ProductTokens.Count);
        Assert.False(robots.IsAllowed("/d4999/x", "bot0"));
        Assert.False(robots.IsAllowed("/d17", "Bot4999/2.1"));
        Assert.True(robots.IsAllowed("/elsewhere", "bot7"));
        Assert.True(robots.IsAllowed("/d1", "otherbot"));
    }

    [Fact]
    public void Parse_AgentInSeveralGroups_MergesThemAndKeepsStarSeparate()
    {
        // §2.2.1: groups naming the same agent are combined; "*" applies only to agents without a group of their own.
        var robots = RobotsTxt.Parse("user-agent: a\ndisallow: /x\n\nuser-agent: *\ndisallow: /y\n\nuser-agent: A\nuser-agent: b\ndisallow: /z\n");
        Assert.False(robots.IsAllowed("/x", "a"));
        Assert.False(robots.IsAllowed("/z", "a"));
        Assert.True(robots.IsAllowed("/y", "a"));
        Assert.False(robots.IsAllowed("/z", "b"));
        Assert.True(robots.IsAllowed("/x", "b"));
        Assert.False(robots.IsAllowed("/y", "c"));
        Assert.Same(robots.SelectGroup("a"), robots.SelectGroup("A/1.0"));
    }

    [Fact]
    public void Parse_ManyDuplicateAgentLines_KeepsOneAgent()
    {
        var text = new StringBuilder();
        for (var i = 0; i < 20_000; i++)
        {
            text.Append("user-agent: same\n");
        }

        var robots = RobotsTxt.Parse(text.Append("disallow: /\n").ToString());
        Assert.Single(robots.ProductTokens);
        Assert.Equal(["same"], robots.SelectGroup("same")!.Agents);
    }
}
