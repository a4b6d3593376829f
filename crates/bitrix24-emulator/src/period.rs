//! The app's paid period on each portal (`docs/bitrix24.md`, "Paid apps"): `app.info` tells
//! `PAYMENT_EXPIRED` and `DAYS`; past the end comes a grace period in which everything still
//! works; after it the OAuth server answers a code exchange or refresh with `PAYMENT_REQUIRED`
//! and issues nothing (the pair it was asked with stays valid). A payment sends `ONAPPPAYMENT`
//! to the handlers bound for it, shaped as the docs show it: `data` and an `auth` block without
//! tokens or `application_token`.

use super::model::FormPost;
use super::model::Install;
use super::world::World;
use bitrix24::domain::MemberId;

/// Days past the end of a period in which the app still works. How long Bitrix24's grace
/// period lasts is not documented (UNCONFIRMED); two weeks is the emulator's choice.
pub const GRACE_DAYS: i64 = 14;

const DAY: i64 = 86_400;

impl Install {
    /// `app.info`'s `PAYMENT_EXPIRED` and `DAYS` at `now` (days begun count whole): none for a
    /// period without an end.
    pub fn period_at(&self, now: i64) -> (bool, Option<i64>) {
        match self.paid_until {
            Some(until) => (now > until, Some(-(now - until).div_euclid(DAY))),
            None => (false, None),
        }
    }

    /// Whether the period and its grace ran out at `now`: the OAuth server issues no tokens.
    pub fn payment_required(&self, now: i64) -> bool {
        self.paid_until
            .is_some_and(|until| now > until + GRACE_DAYS * DAY)
    }
}

impl World {
    /// Whether `client_id`'s period on `member_id` ran out, grace included.
    pub fn payment_required(&self, member_id: &MemberId, client_id: &str) -> bool {
        let now = self.now();
        self.portals
            .get(member_id)
            .and_then(|p| p.installs.get(client_id))
            .is_some_and(|install| install.payment_required(now))
    }

    /// Sets the app's period on a portal to end `days` from now (negative: that long ago, so
    /// past `-GRACE_DAYS` the OAuth server refuses tokens). A positive `days` is a payment:
    /// returns the `ONAPPPAYMENT` event and the handlers bound for it.
    pub fn set_paid_days(
        &mut self,
        member_id: &MemberId,
        client_id: &str,
        days: i64,
    ) -> (FormPost, Vec<String>) {
        let now = self.now();
        let Some(portal) = self.portals.get_mut(member_id) else {
            return (FormPost::default(), Vec::new());
        };
        let licence = portal.licence.clone();
        let Some(install) = portal.installs.get_mut(client_id) else {
            return (FormPost::default(), Vec::new());
        };
        install.paid_until = Some(now + days * DAY);
        if days <= 0 {
            return (FormPost::default(), Vec::new());
        }
        let handlers = install
            .events
            .iter()
            .filter(|e| e.event == "ONAPPPAYMENT")
            .map(|e| e.handler.clone())
            .collect();
        let version = install.version.to_string();
        let mut post = self.event(member_id, client_id, "ONAPPPAYMENT", 0);
        // Just paid for `days` from now: not expired, `days` left.
        post.form.extend([
            ("data[CODE]".into(), client_id.to_owned()),
            ("data[VERSION]".into(), version),
            ("data[STATUS]".into(), licence),
            ("data[PAYMENT_EXPIRED]".into(), "N".into()),
            ("data[DAYS]".into(), days.to_string()),
        ]);
        (post, handlers)
    }
}
