namespace MultiTenant.Clients;

/// <summary>An approved message template (the only kind a business may send outside the 24-hour customer service window).</summary>
/// <param name="Name">The template's name.</param>
/// <param name="LanguageCode">The language and locale of the template, for example <c>en_US</c>.</param>
public sealed record TemplateContent(string Name, string LanguageCode) : MessageContent
{
    /// <inheritdoc/>
    public override string Kind => "template";

    /// <summary>The values of the template's variables, per component; empty (the default) for a template without variables.</summary>
    public IReadOnlyList<TemplateComponent> Components { get; init; } = [];
}

/// <summary>The parameters of one component of a template.</summary>
/// <param name="Type">The component: <c>header</c>, <c>body</c> or <c>button</c>.</param>
/// <param name="Parameters">The parameters, in the order of the component's variables.</param>
public sealed record TemplateComponent(string Type, IReadOnlyList<TemplateParameter> Parameters)
{
    /// <summary>For a <c>button</c> component: the button's kind, <c>quick_reply</c>, <c>url</c> or <c>copy_code</c>; otherwise <see langword="null"/>.</summary>
    public string? SubType { get; init; }

    /// <summary>For a <c>button</c> component: the button's position, 0 to 9; otherwise <see langword="null"/>.</summary>
    public int? Index { get; init; }
}

/// <summary>One value of a template variable. Create it with the static methods.</summary>
public sealed record TemplateParameter
{
    private TemplateParameter(string type)
    {
        Type = type;
    }

    /// <summary>The parameter's type: <c>text</c>, <c>payload</c>, <c>coupon_code</c>, <c>currency</c>, <c>date_time</c>, <c>image</c>,
    /// <c>document</c> or <c>video</c>.</summary>
    public string Type { get; }

    /// <summary>The text of a <c>text</c>, <c>payload</c> or <c>coupon_code</c> parameter, the fallback of <c>currency</c> and
    /// <c>date_time</c>; otherwise <see langword="null"/>.</summary>
    public string? Text { get; private init; }

    /// <summary>For a named variable (<c>{{first_name}}</c>): its name; <see langword="null"/> for a positional one.</summary>
    public string? ParameterName { get; init; }

    /// <summary>The ISO 4217 code of a <c>currency</c> parameter.</summary>
    public string? CurrencyCode { get; private init; }

    /// <summary>The amount of a <c>currency</c> parameter times 1,000.</summary>
    public long? Amount1000 { get; private init; }

    /// <summary>The file of an <c>image</c>, <c>document</c> or <c>video</c> parameter.</summary>
    public MediaSource? Media { get; private init; }

    /// <summary>The file name of a <c>document</c> parameter, or <see langword="null"/>.</summary>
    public string? Filename { get; private init; }

    /// <summary>A text value.</summary>
    /// <param name="text">The value.</param>
    public static TemplateParameter FromText(string text) => new("text") { Text = text };

    /// <summary>The payload of a quick-reply button, returned in the button's reply.</summary>
    /// <param name="payload">The payload.</param>
    public static TemplateParameter FromPayload(string payload) => new("payload") { Text = payload };

    /// <summary>The code of a copy-code button.</summary>
    /// <param name="code">The code.</param>
    public static TemplateParameter FromCouponCode(string code) => new("coupon_code") { Text = code };

    /// <summary>An amount of money.</summary>
    /// <param name="fallback">The text shown where the amount cannot be localised, for example <c>$100.99</c>.</param>
    /// <param name="currencyCode">The ISO 4217 code, for example <c>USD</c>.</param>
    /// <param name="amount1000">The amount times 1,000 (100.99 is 100990).</param>
    public static TemplateParameter FromCurrency(string fallback, string currencyCode, long amount1000) =>
        new("currency") { Text = fallback, CurrencyCode = currencyCode, Amount1000 = amount1000 };

    /// <summary>A date and time, as text.</summary>
    /// <param name="fallback">The text shown, for example <c>February 25, 1977</c>.</param>
    public static TemplateParameter FromDateTime(string fallback) => new("date_time") { Text = fallback };

    /// <summary>A media header: <paramref name="kind"/> is <see cref="MediaKind.Image"/>, <see cref="MediaKind.Document"/> or
    /// <see cref="MediaKind.Video"/>.</summary>
    /// <param name="kind">The kind of media.</param>
    /// <param name="media">The file.</param>
    /// <param name="filename">The file name of a document, or <see langword="null"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="kind"/> is audio or sticker.</exception>
    public static TemplateParameter FromMedia(MediaKind kind, MediaSource media, string? filename = null)
    {
        ArgumentNullException.ThrowIfNull(media);
        string type = kind switch
        {
            MediaKind.Image => "image",
            MediaKind.Document => "document",
            MediaKind.Video => "video",
            _ => throw new ArgumentException("A template's media parameter is an image, a document or a video.", nameof(kind)),
        };
        return new TemplateParameter(type) { Media = media, Filename = filename };
    }
}
