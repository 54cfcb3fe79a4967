namespace OptOutRegistry.Storage.Tests;

public sealed class SearchTextTests
{
    [Theory]
    [InlineData("Café Müller", "cafe muller")]
    [InlineData("  ÉCOLE—d'été  ", "ecole d ete")]
    [InlineData("Ёлка и ЕЛКА", "елка и елка")]
    [InlineData("Қазақстан ӘН", "қазақстан ән")]
    [InlineData("Абай Құнанбайұлы", "абаи құнанбаиұлы")]
    [InlineData("isbn:978-0-306-40615-7", "isbn 978 0 306 40615 7")]
    [InlineData("", "")]
    [InlineData("!!!", "")]
    public void Normalize_FoldsCaseAndAccentsAndSplitsOnNonLetters(string input, string expected) =>
        Assert.Equal(expected, SearchText.Normalize(input));
}
