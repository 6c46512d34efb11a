-- MultiTenant PostgreSQL schema, version 10: a relayed send carries the whole message, of any kind (templates, media, location,
-- contacts, reactions, interactive messages, replies, URL previews), as Meta's message object (OutboundMessageJson of
-- MultiTenant.Core), not only a recipient and a text. Applied like the versions before it.
--
-- During a rolling upgrade a host of version 9 may still claim a row written by a host of version 10: it reads recipient and text
-- only. A text message keeps its text there, so it is sent as before; any other kind stores an empty text, which every backend
-- refuses (an empty text is not a valid message), so an old host answers an error instead of sending a message without its content.
ALTER TABLE send_relay ADD COLUMN message jsonb;
