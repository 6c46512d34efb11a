using System.Diagnostics.Metrics;
using MultiTenant.Storage;

namespace MultiTenant.PostgreSql;

/// <summary>
/// Reads a data source's pool figures from Npgsql's own metrics: the <c>Npgsql</c> meter's observable instruments
/// <c>db.client.connection.count</c> (tagged <c>db.client.connection.state</c> = <c>idle</c> | <c>used</c>) and
/// <c>db.client.connection.max</c>, both tagged <c>db.client.connection.pool.name</c>. Npgsql 10 has no public statistics property;
/// this is its supported way to observe a pool. Figures are read on demand (no background collection).
/// </summary>
internal sealed class NpgsqlPoolStatistics : IDisposable
{
    private const string MeterName = "Npgsql";
    private const string CountInstrument = "db.client.connection.count";
    private const string MaxInstrument = "db.client.connection.max";
    private const string PoolNameTag = "db.client.connection.pool.name";
    private const string StateTag = "db.client.connection.state";

    private readonly string _poolName;
    private readonly MeterListener _listener;
    private readonly Lock _gate = new();

    // Written by the measurement callback, which runs synchronously inside RecordObservableInstruments under _gate.
    private int _used;
    private int _idle;
    private int _max;
    private bool _found;
    private int _disposed;

    public NpgsqlPoolStatistics(string poolName)
    {
        _poolName = poolName;
        _listener = new MeterListener
        {
            InstrumentPublished = static (instrument, listener) =>
            {
                if (instrument.Meter.Name == MeterName && instrument.Name is CountInstrument or MaxInstrument)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<int>(OnMeasurement);
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, state) => OnMeasurement(instrument, (int)value, tags, state));
        _listener.Start();
    }

    /// <summary>The current figures, or <see langword="null"/> when Npgsql reports no pool of that name, or one of no size (Pooling=false).</summary>
    public StorePoolStatistics? Read()
    {
        lock (_gate)
        {
            _used = 0;
            _idle = 0;
            _max = 0;
            _found = false;
            _listener.RecordObservableInstruments();
            return _found && _max > 0 ? new StorePoolStatistics(_used, _idle, _max) : null;
        }
    }

    /// <summary>Stops listening. Idempotent (DI disposes the store once per registration that returns it).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _listener.Dispose();
        }
    }

    private void OnMeasurement(Instrument instrument, int value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        string? pool = null;
        string? connectionState = null;
        foreach (var tag in tags)
        {
            if (tag.Key == PoolNameTag)
            {
                pool = tag.Value as string;
            }
            else if (tag.Key == StateTag)
            {
                connectionState = tag.Value as string;
            }
        }

        // Several data sources of the same name (rare; give them distinct names) are added up.
        if (!string.Equals(pool, _poolName, StringComparison.Ordinal))
        {
            return;
        }

        _found = true;
        if (instrument.Name == MaxInstrument)
        {
            _max += value;
        }
        else if (connectionState == "idle")
        {
            _idle += value;
        }
        else if (connectionState == "used")
        {
            _used += value;
        }
    }
}
