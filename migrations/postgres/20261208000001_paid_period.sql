-- The app's paid period on each portal, as app.info, ONAPPPAYMENT and the OAuth server tell
-- it (docs/bitrix24.md, "Paid apps"): whether Bitrix24 says the period expired, the day it
-- runs out, when it was last read, since when the OAuth server refuses tokens with
-- PAYMENT_REQUIRED (calls and background work for the portal pause), and when we last asked
-- whether payment returned. Additive: a binary that does not know the columns leaves them NULL.
ALTER TABLE portals ADD COLUMN payment_expired BOOLEAN;
ALTER TABLE portals ADD COLUMN paid_until BIGINT;
ALTER TABLE portals ADD COLUMN licence_read_at BIGINT;
ALTER TABLE portals ADD COLUMN payment_required_at BIGINT;
ALTER TABLE portals ADD COLUMN payment_probed_at BIGINT;
