namespace MultiTenant.Tests.Tenants;

public sealed class TenantIdTests
{
    public static TheoryData<string> ValidIds => new()
    {
        "a",
        "Z",
        "7",
        "tenant1",
        "Tenant_1.prod-eu",
        "0.0",
        "a-",
        "a_",
        "a.",
        "123456789",
        new string('x', 64),
        "A" + new string('-', 63),
    };

    public static TheoryData<string, string> InvalidIds => new()
    {
        { "", "empty" },
        { new string('x', 65), "65 characters" },
        { new string('x', 10_000), "10,000 characters" },
        { ".tenant", "leading dot" },
        { "-tenant", "leading dash" },
        { "_tenant", "leading underscore" },
        { " tenant", "leading space" },
        { "tenant ", "trailing space" },
        { "ten ant", "inner space" },
        { "tenant\t1", "tab" },
        { "tenant\n", "newline" },
        { "tenant\r\n1", "CRLF" },
        { "tenant\0", "NUL" },
        { "tenant\u007f", "DEL" },
        { "tenant\u001b[31m", "ANSI escape" },
        { "tenänt", "umlaut" },
        { "Ätenant", "leading umlaut" },
        { "ｔｅｎａｎｔ", "full-width letters" },
        { "١٢٣", "Arabic-Indic digits" },
        { "tenant\u200b", "zero-width space" },
        { "ten\u0131ant", "dotless i" },
        { "tenant😀", "emoji" },
        { "tenant/1", "slash" },
        { "tenant%2F1", "percent" },
        { "tenant:1", "colon" },
        { "../etc", "path traversal" },
        { "tenant'--", "quote" },
        { "tenant@x", "at sign" },
        { "tenant+1", "plus" },
    };

    [Theory]
    [MemberData(nameof(ValidIds))]
    public void Valid_ids_parse_and_keep_their_exact_value(string id)
    {
        var tenant = TenantId.Parse(id);

        Assert.Equal(id, tenant.Value);
        Assert.Equal(id, tenant.ToString());
        Assert.False(tenant.IsDefault);
        Assert.True(TenantId.TryParse(id, out var parsed));
        Assert.Equal(tenant, parsed);
        Assert.Null(TenantId.Validate(id));
    }

    [Theory]
    [MemberData(nameof(InvalidIds))]
    public void Invalid_ids_are_rejected_with_an_argument_exception_that_does_not_echo_the_id(string id, string why)
    {
        var ex = Assert.Throws<InvalidTenantIdException>(() => TenantId.Parse(id));

        Assert.IsAssignableFrom<ArgumentException>(ex);
        Assert.Equal("businessId", ex.ParamName);
        Assert.Equal(id, ex.RejectedValue);
        Assert.False(string.IsNullOrWhiteSpace(ex.Reason), why);
        if (id.Length > 0)
        {
            Assert.DoesNotContain(id, ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(id, ex.Reason, StringComparison.Ordinal);
        }

        Assert.False(TenantId.TryParse(id, out var parsed));
        Assert.True(parsed.IsDefault);
        Assert.Equal(ex.Reason, TenantId.Validate(id));
    }

    [Fact]
    public void Reasons_say_what_is_wrong()
    {
        Assert.Contains("empty", TenantId.Validate(""), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("64", TenantId.Validate(new string('x', 65)), StringComparison.Ordinal);
        Assert.Contains("start", TenantId.Validate("-x"), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("position 4", TenantId.Validate("abc!"), StringComparison.Ordinal);
    }

    [Fact]
    public void Null_is_rejected_by_parse_with_ArgumentNullException_and_by_TryParse_with_false()
    {
        Assert.Throws<ArgumentNullException>(() => TenantId.Parse(null!));
        Assert.False(TenantId.TryParse(null, out _));
        Assert.NotNull(TenantId.Validate(null));
    }

    [Fact]
    public void Ids_are_case_sensitive_and_never_normalised()
    {
        var lower = TenantId.Parse("tenant1");
        var upper = TenantId.Parse("Tenant1");

        Assert.NotEqual(lower, upper);
        Assert.True(lower != upper);
        Assert.False(lower.Equals((object)upper));
        Assert.Equal("Tenant1", upper.Value);
        var set = new HashSet<TenantId> { lower, upper, TenantId.Parse("tenant1") };
        Assert.Equal(2, set.Count);
    }

    [Fact]
    public void Equal_ids_are_equal_and_hash_alike()
    {
        var a = TenantId.Parse("tenant-42");
        var b = TenantId.Parse(new string("tenant-42".ToCharArray()));

        Assert.Equal(a, b);
        Assert.True(a == b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
    }

    [Fact]
    public void Ids_order_ordinally()
    {
        var ids = new[] { "b", "B", "a", "A", "0", "a.b", "a-b" }.Select(TenantId.Parse).ToList();

        ids.Sort();

        Assert.Equal(new[] { "0", "A", "B", "a", "a-b", "a.b", "b" }, ids.Select(static t => t.Value));
        Assert.True(TenantId.Parse("A") < TenantId.Parse("a"));
        Assert.True(TenantId.Parse("b") >= TenantId.Parse("a"));
    }

    [Fact]
    public void Default_names_no_tenant()
    {
        TenantId none = default;

        Assert.True(none.IsDefault);
        Assert.Equal(string.Empty, none.Value);
        Assert.NotEqual(TenantId.Parse("a"), none);
    }

    [Fact]
    public void Every_ascii_character_is_accepted_exactly_when_the_spec_allows_it()
    {
        for (int c = 0; c < 128; c++)
        {
            char ch = (char)c;
            bool letterOrDigit = ch is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9';
            bool allowedInside = letterOrDigit || ch is '.' or '_' or '-';

            Assert.Equal(letterOrDigit, TenantId.TryParse(ch.ToString(), out _));
            Assert.Equal(allowedInside, TenantId.TryParse("a" + ch + "b", out _));
        }
    }

    [Theory]
    [MemberData(nameof(ValidIds))]
    public void Valid_ids_parse_through_ISpanParsable(string id)
    {
        Assert.Equal(id, ParseGeneric<TenantId>(id).Value);
        Assert.True(TryParseSpanGeneric<TenantId>(("<" + id + ">").AsSpan(1, id.Length), out var fromSpan));
        Assert.Equal(id, fromSpan.Value);
        Assert.Equal(id, TenantId.Parse(id.AsSpan(), provider: null).Value);
        Assert.True(TenantId.TryParse(id, provider: null, out var fromString));
        Assert.Equal(id, fromString.Value);
    }

    [Theory]
    [MemberData(nameof(InvalidIds))]
    public void Invalid_ids_fail_through_ISpanParsable_with_the_same_reason(string id, string why)
    {
        Assert.False(TryParseSpanGeneric<TenantId>(id.AsSpan(), out var parsed), why);
        Assert.True(parsed.IsDefault);
        Assert.False(TenantId.TryParse(id, provider: null, out _));
        var ex = Assert.Throws<InvalidTenantIdException>(() => TenantId.Parse(id.AsSpan(), provider: null));
        Assert.Equal(TenantId.Validate(id), ex.Reason);
        Assert.Equal(TenantId.Validate(id), TenantId.Validate(id.AsSpan()));
    }

    private static T ParseGeneric<T>(string s)
        where T : IParsable<T> => T.Parse(s, provider: null);

    private static bool TryParseSpanGeneric<T>(ReadOnlySpan<char> s, out T result)
        where T : ISpanParsable<T> => T.TryParse(s, provider: null, out result!);
}
