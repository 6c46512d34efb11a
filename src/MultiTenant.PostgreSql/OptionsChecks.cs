using System.Globalization;
using Microsoft.Extensions.Options;

namespace MultiTenant.PostgreSql;

/// <summary>The checks the package's options validators share (store options, fleet options).</summary>
internal static class OptionsChecks
{
    /// <summary>Adds a failure when <paramref name="value"/> lies outside [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static void Range(List<string> failures, string section, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{section}:{name} must be between {min} and {max}; it is {value}."));
        }
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> when <paramref name="validator"/> finds <paramref name="options"/> invalid.</summary>
    public static void ThrowIfInvalid<TOptions>(IValidateOptions<TOptions> validator, TOptions options)
        where TOptions : class
    {
        var result = validator.Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(TOptions), result.Failures);
        }
    }
}
