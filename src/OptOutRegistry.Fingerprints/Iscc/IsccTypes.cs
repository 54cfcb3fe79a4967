namespace OptOutRegistry.Fingerprints.Iscc;

/// <summary>ISCC MainType (ISO 24138:2024; iscc-core <c>constants.MT</c>).</summary>
public enum IsccMainType : byte
{
    /// <summary>Metadata similarity.</summary>
    Meta = 0,

    /// <summary>Semantic content similarity.</summary>
    Semantic = 1,

    /// <summary>Perceptual content similarity (text, image, audio, video, mixed).</summary>
    Content = 2,

    /// <summary>Raw data similarity.</summary>
    Data = 3,

    /// <summary>Data identity (BLAKE3).</summary>
    Instance = 4,

    /// <summary>Composite ISCC-CODE of several units under one header.</summary>
    Iscc = 5,

    /// <summary>ISCC-ID.</summary>
    Id = 6,

    /// <summary>ISCC Flake.</summary>
    Flake = 7,
}

/// <summary>SubType values (the meaning depends on the MainType; iscc-core <c>ST</c>, <c>ST_CC</c>, <c>ST_ISCC</c>).</summary>
public static class IsccSubType
{
    /// <summary>No subtype (Meta, Data, Instance).</summary>
    public const byte None = 0;

    /// <summary>Content/Semantic/ISCC: text.</summary>
    public const byte Text = 0;

    /// <summary>Content/Semantic/ISCC: image.</summary>
    public const byte Image = 1;

    /// <summary>Content/Semantic/ISCC: audio.</summary>
    public const byte Audio = 2;

    /// <summary>Content/Semantic/ISCC: video.</summary>
    public const byte Video = 3;

    /// <summary>Content/Semantic/ISCC: mixed.</summary>
    public const byte Mixed = 4;

    /// <summary>ISCC-CODE made of Data- and Instance-Code only.</summary>
    public const byte Sum = 5;

    /// <summary>ISCC-CODE with Meta-, Data- and Instance-Code but no Content-Code.</summary>
    public const byte IsccNone = 6;

    /// <summary>ISCC-CODE with 128-bit Data- and Instance-Code (wide composite).</summary>
    public const byte Wide = 7;
}

/// <summary>One 64-bit ISCC unit as the matcher indexes it.</summary>
/// <param name="MainType">The unit's MainType (never <see cref="IsccMainType.Iscc"/>).</param>
/// <param name="SubType">The unit's SubType.</param>
/// <param name="Version">Algorithm version (0).</param>
/// <param name="BitLength">Length of the unit's body in bits as encoded (32–256).</param>
/// <param name="Body">
/// The first 64 bits of the body as a big-endian integer (bit 63 = first body bit). A 32-bit body fills the
/// high half and leaves the low half zero.
/// </param>
public readonly record struct IsccUnit(IsccMainType MainType, byte SubType, byte Version, int BitLength, ulong Body);

/// <summary>Thrown when a string is not a well-formed ISCC; the message names the field and the reason.</summary>
public sealed class IsccFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public IsccFormatException(string message)
        : base(message)
    {
    }
}
