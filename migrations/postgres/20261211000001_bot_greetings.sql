-- The bot greets each chat it joins once a day at most: a repeated (or forged) join event
-- finds its chat here.
CREATE TABLE bot_greetings (
    member_id TEXT NOT NULL,
    dialog_id TEXT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (member_id, dialog_id)
);

CREATE INDEX bot_greetings_by_age ON bot_greetings (at);
