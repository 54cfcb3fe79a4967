namespace OptOutRegistry.Core.Crosswalk;

/// <summary>Ids and current versions of the wire vocabularies the crosswalk knows (standards.md §5, §7, §9).</summary>
public static class Vocabularies
{
    /// <summary>IETF AIPREF vocabulary (draft-ietf-aipref-vocab); labels changed between versions (standards.md §5.1).</summary>
    public const string Aipref = "aipref";

    /// <summary>Liccium / TDM·AI declarations (JSON per ISCC, labels of AIPREF vocab-02, values <c>"true"</c>/<c>"false"</c>).</summary>
    public const string TdmAi = "tdmai";

    /// <summary>Cloudflare Content Signals (draft-romm-aipref-contentsignals): <c>search</c>, <c>ai-input</c>, <c>ai-train</c>, values yes/no.</summary>
    public const string ContentSignals = "content-signals";

    /// <summary>Really Simple Licensing 1.0 usage tokens in <c>&lt;permits type="usage"&gt;</c> / <c>&lt;prohibits&gt;</c>.</summary>
    public const string Rsl = "rsl";

    /// <summary>CAWG training-and-data-mining assertion (<c>cawg.training-mining</c>).</summary>
    public const string Cawg = "cawg";

    /// <summary>The C2PA 1.x assertion <c>c2pa.training-mining</c>, removed in C2PA 2.0 and continued by CAWG.</summary>
    public const string C2pa = "c2pa";

    /// <summary>W3C TDM Reservation Protocol: the single <c>tdm-reservation</c> bit.</summary>
    public const string TdmRep = "tdmrep";

    /// <summary><c>X-Robots-Tag</c> / <c>&lt;meta name="robots"&gt;</c> directives <c>noai</c>, <c>noimageai</c> (no formal standard).</summary>
    public const string XRobotsTag = "x-robots-tag";

    /// <summary>AIPREF vocab-07 (2026-08-19): <c>train-ai</c> (generative only) and <c>search</c>, no hierarchy.</summary>
    public const string AiprefVocab07 = "vocab-07";

    /// <summary>AIPREF vocab-02 (2025-07-20): <c>all</c>, <c>train-ai</c>, <c>train-genai</c>, <c>ai-use</c>, <c>search</c>.</summary>
    public const string AiprefVocab02 = "vocab-02";

    /// <summary>TDM·AI declaration schema version (<c>"version": "1.0"</c>).</summary>
    public const string TdmAiVersion = "1.0";

    /// <summary>The Content Signals draft the labels come from.</summary>
    public const string ContentSignalsVersion = "draft-romm-aipref-contentsignals-00";

    /// <summary>RSL specification version.</summary>
    public const string RslVersion = "1.0";

    /// <summary>The CAWG assertion label, used as the version of its key set.</summary>
    public const string CawgVersion = "cawg.training-mining";

    /// <summary>The C2PA 1.x assertion label.</summary>
    public const string C2paVersion = "c2pa.training-mining";

    /// <summary>The TDMRep community group final report.</summary>
    public const string TdmRepVersion = "CG-FINAL-20240510";

    /// <summary>X-Robots-Tag has no versioned specification; directives as deployed since DeviantArt (2022).</summary>
    public const string XRobotsTagVersion = "deployed-2022";
}
