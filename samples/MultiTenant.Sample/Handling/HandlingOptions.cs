using System.ComponentModel.DataAnnotations;

namespace MultiTenant.Sample.Handling;

/// <summary>
/// Settings of the sample's handling audit (configuration section <c>Handling</c>, environment <c>Handling__Name</c>): a record of
/// which host handled which event, to check the inbox's at-least-once contract from outside the process. Off by default.
/// </summary>
public sealed class HandlingOptions
{
    public const string SectionName = "Handling";

    /// <summary>
    /// A file to which <see cref="AuditingEventHandler"/> appends a line when a message or receipt reaches the handlers (<c>start</c>)
    /// and when they are through with it (<c>done</c>): <c>start|done business_id event_id host_id unix_ms</c>, where the event id is
    /// the one a handler de-duplicates by (README, "Inbox: at-least-once delivery"): the message id of a message,
    /// <c>message_id:status</c> of a receipt. Used by the Cloud API process test (a host killed with kill -9 mid-stream).
    /// Default none (no audit, no handler registered).
    /// </summary>
    public string? AuditFile { get; set; }

    /// <summary>
    /// How long the audited handler takes per event, between its <c>start</c> and <c>done</c> lines (simulated work, so that a kill
    /// lands while handlers run). Default 0; at most 10 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan Delay { get; set; }
}
