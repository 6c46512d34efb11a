-- MultiTenant PostgreSQL schema: outbound webhooks (issue 10). Migration 4 created webhook_subscriptions and outbox; this adds the
-- index the purge of delivered events walks (delivered rows are kept for a retention period, to absorb redelivered event ids).
CREATE INDEX outbox_done ON outbox (completed_at) WHERE state = 'done';
