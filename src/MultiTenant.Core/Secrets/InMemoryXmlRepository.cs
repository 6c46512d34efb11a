using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace MultiTenant.Secrets;

/// <summary>
/// The key ring in process memory, used when no durable repository is registered (the embedded store): its keys live and die with the
/// process, like the embedded store's data. Thread-safe.
/// </summary>
internal sealed class InMemoryXmlRepository : IXmlRepository
{
    private readonly List<XElement> _elements = [];
    private readonly Lock _lock = new();

    public IReadOnlyCollection<XElement> GetAllElements()
    {
        lock (_lock)
        {
            var copy = new List<XElement>(_elements.Count);
            foreach (var element in _elements)
            {
                copy.Add(new XElement(element));
            }

            return copy;
        }
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        ArgumentNullException.ThrowIfNull(element);
        lock (_lock)
        {
            _elements.Add(new XElement(element));
        }
    }
}
