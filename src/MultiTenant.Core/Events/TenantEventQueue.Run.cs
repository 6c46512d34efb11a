using MultiTenant.Diagnostics;

namespace MultiTenant.Events;

internal sealed partial class TenantEventQueue
{
    /// <summary>
    /// The metrics of one run of the reader loop: the events it handled back to back. What it records:
    /// <list type="bullet">
    /// <item><c>whatsmeow.handler.duration</c>: per stretch of at most <see cref="MaxEvents"/> events, the time from the stretch's
    /// start (the reader waking up, or the end of the previous stretch) to the end of its last event's last handler, divided by its
    /// events: the mean time the handlers took per event. A stretch also ends when an event has a waiting
    /// <see cref="DeliverAsync"/> caller (so that caller sees its event measured). When events do not queue up, a stretch is one
    /// event, timed exactly; under a burst the histogram shows the burst's mean per event, not each event.</item>
    /// <item><c>whatsmeow.tenant.messages{direction=in}</c> and the queue depth: added up and published at the end of a stretch, and
    /// before a handler is awaited (so a slow handler does not hold back counts of events already handled); the first event of a run
    /// leaves the depth as soon as it is read.</item>
    /// </list>
    /// Clock reads: two per stretch, none per event. A mutable struct local of the loop (hoisted into its state machine).
    /// </summary>
    private struct RunTally(TenantEventQueue queue)
    {
        /// <summary>The longest stretch timed as one histogram value.</summary>
        internal const int MaxEvents = 64;

        private long _started; // the stretch's start timestamp, 0 while not timed
        private int _timed;    // events handled in the stretch
        private int _read;     // events read and not yet taken off the depth
        private long _messages; // inbound messages handled and not yet counted
        private bool _first;    // the next event read is the run's first

        /// <summary>The reader woke up: a run and its first stretch start.</summary>
        public void Begin()
        {
            _started = queue._metrics.HandlerDuration.Enabled ? queue._timeProvider.GetTimestamp() : 0;
            _timed = 0;
            _first = true;
        }

        /// <summary>An event was taken from the queue: the first of a run leaves the depth at once (one update per wake-up), the
        /// others at the end of their stretch.</summary>
        public void Read()
        {
            if (_first)
            {
                _first = false;
                queue._queued.Add(-1);
            }
            else
            {
                _read++;
            }
        }

        /// <summary>Every handler of an event returned; <paramref name="waited"/> when a caller waits for this event.</summary>
        public void Handled(bool message, bool waited)
        {
            _timed++;
            if (message)
            {
                _messages++;
            }

            if (waited || _timed >= MaxEvents)
            {
                EndStretch(restart: true);
                FlushCounts();
            }
        }

        /// <summary>Publishes the depth and message count of the events handled so far.</summary>
        public void FlushCounts()
        {
            if (_read != 0)
            {
                queue._queued.Add(-_read);
                _read = 0;
            }

            if (_messages != 0)
            {
                queue._metrics.Messages.Add(_messages, queue._tenantTag, TenantMetrics.InboundTag);
                _messages = 0;
            }
        }

        /// <summary>The queue is empty: the run ends.</summary>
        public void End()
        {
            EndStretch(restart: false);
            FlushCounts();
        }

        private void EndStretch(bool restart)
        {
            var histogram = queue._metrics.HandlerDuration;
            long now = 0;
            if (_started != 0 && _timed != 0)
            {
                now = queue._timeProvider.GetTimestamp();
                histogram.Record(queue._timeProvider.GetElapsedTime(_started, now).TotalSeconds / _timed, queue._tenantTag);
            }

            _timed = 0;
            _started = !restart || !histogram.Enabled ? 0 : now != 0 ? now : queue._timeProvider.GetTimestamp();
        }
    }
}
