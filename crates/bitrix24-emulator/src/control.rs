//! The emulator's scripted side, for tests and the demo: users, installs, the POSTs a portal
//! sends, the clock, faults, and what was called.

use std::time::Duration;

use super::world::Server;
use super::world::{Bucket, Call, EventBinding, Fault, FaultKind, FormPost, PlacementBinding};
use super::{Emulator, PortalInfo, UserSpec, portal_info};
use bitrix24::domain::{MemberId, Status};

/// A token pair as the portal hands it out.
#[derive(Clone, Debug)]
pub struct IssuedTokens {
    /// `AUTH_ID` / `access_token`.
    pub access: String,
    /// `REFRESH_ID` / `refresh_token`.
    pub refresh: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Where an injected fault strikes.
#[derive(Clone, Debug, Default)]
pub struct FaultTarget {
    /// Only this server (`None`: any).
    pub server: Option<Server>,
    /// Only this REST method or endpoint (`None`: any).
    pub method: Option<String>,
}

impl Emulator {
    /// Adds a user to a portal and returns their id.
    pub fn add_user(&self, member_id: &MemberId, user: UserSpec) -> u64 {
        let mut world = self.world();
        let Some(portal) = world.portals.get_mut(member_id) else {
            return 0;
        };
        let id = portal.users.keys().next_back().map_or(1, |last| last + 1);
        portal.users.insert(id, user.into_user());
        id
    }

    /// `user` types `text` in `dialog` (`chat<N>`, or a bot's id for their private chat with
    /// it); returns the message's id and, for each line that is a command of a webhook bot of
    /// `client_id`, the `ONIMBOTV2COMMANDADD` event and the URL it is to be posted to.
    pub fn type_message(
        &self,
        member_id: &MemberId,
        client_id: &str,
        user: u64,
        dialog: &str,
        text: &str,
    ) -> (u64, Vec<(String, FormPost)>) {
        self.world()
            .type_message(member_id, client_id, user, dialog, text)
    }

    /// `user` adds the app's bot to the group chat `chat<N>`: the `ONIMBOTV2JOINCHAT` webhook
    /// and its address, as Bitrix24 sends it.
    pub fn add_bot_to_chat(
        &self,
        member_id: &MemberId,
        client_id: &str,
        user: u64,
        chat: u64,
    ) -> Option<(String, FormPost)> {
        self.world()
            .add_bot_to_chat(member_id, client_id, user, chat)
    }

    /// Every message in a portal's chats, oldest first.
    pub fn messages(&self, member_id: &MemberId) -> Vec<crate::Message> {
        self.world()
            .portals
            .get(member_id)
            .map(|p| p.messages.clone())
            .unwrap_or_default()
    }

    /// The bots registered on a portal.
    pub fn bots(&self, member_id: &MemberId) -> Vec<crate::Bot> {
        let world = self.world();
        world
            .portals
            .get(member_id)
            .map(|p| p.bots.clone())
            .unwrap_or_default()
    }

    /// Grants or withdraws a user's administrator rights, as a portal's administrator does in
    /// the portal's settings; tokens already handed out stay valid.
    pub fn set_admin(&self, member_id: &MemberId, user_id: u64, admin: bool) {
        if let Some(user) = self
            .world()
            .portals
            .get_mut(member_id)
            .and_then(|portal| portal.users.get_mut(&user_id))
        {
            user.admin = admin;
        }
    }

    /// Makes a user an extranet user (or an employee again).
    pub fn set_extranet(&self, member_id: &MemberId, user_id: u64, extranet: bool) {
        if let Some(user) = self
            .world()
            .portals
            .get_mut(member_id)
            .and_then(|p| p.users.get_mut(&user_id))
        {
            user.extranet = extranet;
        }
    }

    /// The install POST the portal sends when the admin opens the app for the first time: the
    /// installation record exists, but `installFinish` has not happened yet (`docs/bitrix24.md`,
    /// "Installation").
    pub fn begin_install(
        &self,
        member_id: &MemberId,
        client_id: &str,
        user_id: u64,
        lang: &str,
    ) -> FormPost {
        let mut world = self.world();
        world.begin_install(member_id, client_id);
        world.frame_post(member_id, client_id, user_id, "DEFAULT", lang, "")
    }

    /// What `BX24.installFinish()` does: the app counts as installed from now on.
    pub fn finish_install(&self, member_id: &MemberId, client_id: &str) {
        if let Some(install) = self
            .world()
            .portals
            .get_mut(member_id)
            .and_then(|p| p.installs.get_mut(client_id))
        {
            install.finished = true;
        }
    }

    /// Installs an app at once (begin + finish), for tests that start from an installed app.
    pub fn install(&self, member_id: &MemberId, client_id: &str) {
        self.begin_install(member_id, client_id, 1, "en");
        self.finish_install(member_id, client_id);
    }

    /// The frame POST for `user` opening the app at `placement` (`docs/bitrix24.md`,
    /// "Installation"), with a fresh token pair as the portal issues on every render.
    pub fn frame_post(
        &self,
        member_id: &MemberId,
        client_id: &str,
        user_id: u64,
        placement: &str,
        lang: &str,
        placement_options: &str,
    ) -> FormPost {
        self.world().frame_post(
            member_id,
            client_id,
            user_id,
            placement,
            lang,
            placement_options,
        )
    }

    /// Issues a token pair for a user without a frame (as an authorisation would).
    pub fn issue_tokens(
        &self,
        member_id: &MemberId,
        client_id: &str,
        user_id: u64,
    ) -> IssuedTokens {
        let issued = self.world().issue(member_id, user_id, client_id);
        IssuedTokens {
            access: issued.access,
            refresh: issued.refresh,
            expires_at: issued.expires_at,
        }
    }

    /// Takes `access` and `refresh` as a pair the OAuth server issued to `client_id` for a
    /// user (a load harness whose own upstream reads the user from the token).
    pub fn adopt_tokens(
        &self,
        member_id: &MemberId,
        client_id: &str,
        user_id: u64,
        (access, refresh): (String, String),
    ) {
        self.world()
            .issue_as(member_id, user_id, client_id, access, refresh);
    }

    /// An event POST as the portal sends it (form-encoded, bracketed keys; `docs/bitrix24.md`,
    /// "Events"). `ONAPPINSTALL` and `ONAPPUPDATE` carry a fresh pair of `user_id`'s tokens;
    /// `ONAPPUNINSTALL` carries none. Use [`Emulator::uninstall`] for the uninstall itself.
    pub fn event(
        &self,
        member_id: &MemberId,
        client_id: &str,
        event: &str,
        user_id: u64,
    ) -> FormPost {
        self.world().event(member_id, client_id, event, user_id)
    }

    /// Uninstalls the app: every token dies and the bindings go (`docs/bitrix24.md`, "Events");
    /// returns the `ONAPPUNINSTALL` event the portal sends.
    pub fn uninstall(&self, member_id: &MemberId, client_id: &str, clean: bool) -> FormPost {
        self.world().uninstall(member_id, client_id, clean).0
    }

    /// Updates the app to `version`: the portal drops the app's event handlers, as Bitrix24
    /// does on every update, and returns the `ONAPPUPDATE` event carrying `user_id`'s tokens.
    pub fn update_app(
        &self,
        member_id: &MemberId,
        client_id: &str,
        version: u32,
        user_id: u64,
    ) -> FormPost {
        self.world()
            .update_app(member_id, client_id, version, user_id)
    }

    /// Sets the app's paid period on a portal to end `days` from now; negative is past its end,
    /// and past `-GRACE_DAYS` (14) the OAuth server refuses tokens with `PAYMENT_REQUIRED`. A
    /// positive `days` is a payment: returns the `ONAPPPAYMENT` event the portal sends (empty
    /// otherwise).
    pub fn set_paid_days(&self, member_id: &MemberId, client_id: &str, days: i64) -> FormPost {
        self.world().set_paid_days(member_id, client_id, days).0
    }

    /// Makes every access token of a user expire now (their refresh tokens stay valid).
    pub fn expire_access_tokens(&self, member_id: &MemberId, user_id: u64) {
        self.world().expire_access_tokens(member_id, user_id);
    }

    /// How many requests for `method` (a REST method, `oauth/token` or `app.info`) have
    /// arrived so far, answered or not: with [`Emulator::calls`], tells a request still in
    /// flight from one never sent.
    pub fn arrivals(&self, method: &str) -> usize {
        self.world().arrivals.get(method).copied().unwrap_or(0)
    }

    /// Moves the emulator's clock forward (token and code expiry).
    pub fn advance_clock(&self, by: Duration) {
        self.world().clock.advance(by);
    }

    /// Sets a portal's leaky bucket (defaults: burst 50, 2 per second).
    pub fn set_rate_limit(&self, member_id: &MemberId, burst: u32, drain_per_sec: f64) {
        if let Some(portal) = self.world().portals.get_mut(member_id) {
            portal.bucket = Bucket::new(burst, drain_per_sec);
        }
    }

    /// Sets the latency added to every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.world().latency = latency;
    }

    /// Injects a fault for the next `times` matching requests.
    pub fn inject(&self, target: FaultTarget, kind: FaultKind, times: usize) {
        self.world().faults.push(Fault {
            server: target.server,
            method: target.method,
            kind,
            remaining: times,
        });
    }

    /// Removes every injected fault not yet used up.
    pub fn clear_faults(&self) {
        self.world().faults.clear();
    }

    /// Chooses who is logged in to the portal in the browser (for `/oauth/authorize/`).
    pub fn set_browser_user(&self, member_id: &MemberId, user_id: u64) {
        if let Some(portal) = self.world().portals.get_mut(member_id) {
            portal.browser_user = user_id;
        }
    }

    /// Every request answered so far.
    pub fn calls(&self) -> Vec<Call> {
        self.world().calls.clone()
    }

    /// Every secret the emulator ever handed out — access and refresh tokens, codes and
    /// application tokens — for tests that check none of them leaks.
    pub fn issued_secrets(&self) -> Vec<String> {
        let world = self.world();
        let tokens = world
            .access
            .keys()
            .chain(world.refresh.keys())
            .chain(world.codes.keys())
            .cloned();
        let app_tokens = world
            .portals
            .values()
            .flat_map(|p| p.installs.values().map(|i| i.application_token.clone()));
        tokens.chain(app_tokens).collect()
    }

    /// How many refresh grants succeeded.
    pub fn refresh_count(&self) -> usize {
        self.world().refreshes
    }

    /// The emulator's clock: the demo runs the app on it too, so "skip 1 hour" moves both.
    pub fn clock(&self) -> bitrix24::clock::Clock {
        self.world().clock.clone()
    }

    /// A user's messenger status, `None` if never set.
    pub fn user_status(&self, member_id: &MemberId, user_id: u64) -> Option<Status> {
        self.world()
            .portals
            .get(member_id)
            .and_then(|p| p.users.get(&user_id))
            .and_then(|u| u.status)
    }

    /// The most REST requests the portal answered at once since this was last asked.
    pub fn take_most_in_flight(&self, member_id: &MemberId) -> usize {
        self.world()
            .portals
            .get_mut(member_id)
            .map_or(0, |p| std::mem::replace(&mut p.in_flight.1, p.in_flight.0))
    }

    /// The placements an app bound on a portal.
    pub fn placements(&self, member_id: &MemberId, client_id: &str) -> Vec<PlacementBinding> {
        self.world()
            .portals
            .get(member_id)
            .and_then(|p| p.installs.get(client_id))
            .map(|i| i.placements.clone())
            .unwrap_or_default()
    }

    /// The events an app bound on a portal.
    pub fn events(&self, member_id: &MemberId, client_id: &str) -> Vec<EventBinding> {
        self.world()
            .portals
            .get(member_id)
            .and_then(|p| p.installs.get(client_id))
            .map(|i| i.events.clone())
            .unwrap_or_default()
    }

    /// Whether the app finished installing on a portal.
    pub fn is_installed(&self, member_id: &MemberId, client_id: &str) -> bool {
        self.world()
            .portals
            .get(member_id)
            .and_then(|p| p.installs.get(client_id))
            .is_some_and(|i| i.finished)
    }

    /// Every portal, by id and address.
    pub fn portals(&self) -> Vec<PortalInfo> {
        self.world()
            .portals
            .values()
            .map(|p| portal_info(p.member_id.clone(), p.domain.clone(), p.region))
            .collect()
    }
}
