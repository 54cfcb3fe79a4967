using Pb = OptOutRegistry.Api.V1;
using Cm = OptOutRegistry.Core.Model;

namespace OptOutRegistry.Server.Mapping;

/// <summary>
/// Conversions between the wire enums (protos/optout/v1/common.proto, zero = UNSPECIFIED) and Core's and Storage's enums,
/// whose numbering differs. Every conversion is an explicit switch so that a renumbering anywhere fails loudly.
/// </summary>
public static class EnumMapping
{
    /// <summary>Wire category to Core; false for UNSPECIFIED or an unknown number.</summary>
    public static bool TryToCore(Pb.UsageCategory category, out Cm.UsageCategory result)
    {
        switch (category)
        {
            case Pb.UsageCategory.All: result = Cm.UsageCategory.All; return true;
            case Pb.UsageCategory.TrainAi: result = Cm.UsageCategory.TrainAi; return true;
            case Pb.UsageCategory.TrainGenai: result = Cm.UsageCategory.TrainGenAi; return true;
            case Pb.UsageCategory.AiUse: result = Cm.UsageCategory.AiUse; return true;
            case Pb.UsageCategory.Search: result = Cm.UsageCategory.Search; return true;
            default: result = default; return false;
        }
    }

    /// <summary>Core category to the wire.</summary>
    public static Pb.UsageCategory ToApi(Cm.UsageCategory category) => category switch
    {
        Cm.UsageCategory.All => Pb.UsageCategory.All,
        Cm.UsageCategory.TrainAi => Pb.UsageCategory.TrainAi,
        Cm.UsageCategory.TrainGenAi => Pb.UsageCategory.TrainGenai,
        Cm.UsageCategory.AiUse => Pb.UsageCategory.AiUse,
        Cm.UsageCategory.Search => Pb.UsageCategory.Search,
        _ => throw new ArgumentOutOfRangeException(nameof(category)),
    };

    /// <summary>Wire permission to Core; false for UNSPECIFIED or an unknown number.</summary>
    public static bool TryToCore(Pb.Permission permission, out Cm.UsagePermission result)
    {
        switch (permission)
        {
            case Pb.Permission.Disallow: result = Cm.UsagePermission.Disallow; return true;
            case Pb.Permission.Allow: result = Cm.UsagePermission.Allow; return true;
            default: result = default; return false;
        }
    }

    /// <summary>Core permission to the wire.</summary>
    public static Pb.Permission ToApi(Cm.UsagePermission permission) => permission switch
    {
        Cm.UsagePermission.Disallow => Pb.Permission.Disallow,
        Cm.UsagePermission.Allow => Pb.Permission.Allow,
        _ => throw new ArgumentOutOfRangeException(nameof(permission)),
    };

    /// <summary>Wire state to Core.</summary>
    public static Cm.ReservationState ToCore(Pb.ReservationState state) => state switch
    {
        Pb.ReservationState.Active => Cm.ReservationState.Active,
        Pb.ReservationState.Superseded => Cm.ReservationState.Superseded,
        Pb.ReservationState.Revoked => Cm.ReservationState.Revoked,
        _ => throw new Cm.ModelValidationException("state", $"{(int)state} is not a reservation state"),
    };

    /// <summary>Stored state to the wire.</summary>
    public static Pb.ReservationState ToApi(OptOutRegistry.Storage.ReservationState state) => state switch
    {
        OptOutRegistry.Storage.ReservationState.Active => Pb.ReservationState.Active,
        OptOutRegistry.Storage.ReservationState.Superseded => Pb.ReservationState.Superseded,
        OptOutRegistry.Storage.ReservationState.Revoked => Pb.ReservationState.Revoked,
        _ => Pb.ReservationState.Unspecified,
    };

    /// <summary>Wire state to the store's.</summary>
    public static OptOutRegistry.Storage.ReservationState ToStore(Pb.ReservationState state) => state switch
    {
        Pb.ReservationState.Active => OptOutRegistry.Storage.ReservationState.Active,
        Pb.ReservationState.Superseded => OptOutRegistry.Storage.ReservationState.Superseded,
        Pb.ReservationState.Revoked => OptOutRegistry.Storage.ReservationState.Revoked,
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };

    /// <summary>Wire name of a verification method as recorded in <c>HostVerified.method</c>.</summary>
    public static string ToEventName(Pb.VerificationMethod method) => method switch
    {
        Pb.VerificationMethod.WellKnown => "well-known",
        Pb.VerificationMethod.HtmlMeta => "meta",
        Pb.VerificationMethod.DnsTxt => "dns",
        Pb.VerificationMethod.Operator => "operator",
        _ => throw new ArgumentOutOfRangeException(nameof(method)),
    };

    /// <summary>Inverse of <see cref="ToEventName"/>; UNSPECIFIED for an unknown name.</summary>
    public static Pb.VerificationMethod FromEventName(string? name) => name switch
    {
        "well-known" => Pb.VerificationMethod.WellKnown,
        "meta" => Pb.VerificationMethod.HtmlMeta,
        "dns" => Pb.VerificationMethod.DnsTxt,
        "operator" => Pb.VerificationMethod.Operator,
        _ => Pb.VerificationMethod.Unspecified,
    };
}
