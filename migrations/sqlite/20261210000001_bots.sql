-- Chat commands (Chat-bots 2.0): the app's bot on each portal, by its id there, to tell the
-- app's own command events from others' and to answer in the chat.
CREATE TABLE bots (
    member_id  TEXT PRIMARY KEY REFERENCES portals (member_id) ON DELETE CASCADE,
    bot_id     INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Each command message is acted on once: a replayed event finds its message here. Kept a day,
-- far past the minutes a command's message counts as fresh.
CREATE TABLE bot_messages (
    member_id  TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (member_id, message_id)
) STRICT;

CREATE INDEX bot_messages_by_age ON bot_messages (at);
