//! What a portal sends an app: the frame POST of every open, and event POSTs — install,
//! update, uninstall, payment (`docs/bitrix24.md`, "Installation", "Events", "Uninstall",
//! "Paid apps").

use super::model::{ACCESS_TTL, FormPost};
use super::world::{World, hex32};
use bitrix24::domain::MemberId;

impl World {
    pub fn frame_post(
        &mut self,
        member_id: &MemberId,
        client_id: &str,
        user_id: u64,
        placement: &str,
        lang: &str,
        placement_options: &str,
    ) -> FormPost {
        let issued = self.issue(member_id, user_id, client_id);
        let server_endpoint = self.server_endpoint(member_id);
        let Some(portal) = self.portals.get(member_id) else {
            return FormPost::default();
        };
        let install = portal.installs.get(client_id);
        let pairs = |list: &[(&str, String)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect()
        };
        FormPost {
            query: pairs(&[
                ("DOMAIN", portal.domain.clone()),
                ("PROTOCOL", "0".into()),
                ("LANG", lang.to_owned()),
                ("APP_SID", hex32()),
            ]),
            form: pairs(&[
                ("AUTH_ID", issued.access),
                ("AUTH_EXPIRES", ACCESS_TTL.to_string()),
                ("REFRESH_ID", issued.refresh),
                ("SERVER_ENDPOINT", server_endpoint),
                (
                    "APPLICATION_TOKEN",
                    install
                        .map(|i| i.application_token.clone())
                        .unwrap_or_default(),
                ),
                (
                    "APPLICATION_SCOPE",
                    install.map(|i| i.scope.clone()).unwrap_or_default(),
                ),
                ("member_id", member_id.as_str().to_owned()),
                ("status", portal.licence.clone()),
                ("PLACEMENT", placement.to_owned()),
                ("PLACEMENT_OPTIONS", placement_options.to_owned()),
            ]),
        }
    }

    /// An event POST as the portal sends it (form-encoded, bracketed keys; `docs/bitrix24.md`,
    /// "Events"). `ONAPPINSTALL` and `ONAPPUPDATE` carry a fresh pair of `user_id`'s tokens;
    /// `ONAPPUNINSTALL` carries none, and `ONAPPPAYMENT` neither tokens nor
    /// `application_token`.
    pub fn event(
        &mut self,
        member_id: &MemberId,
        client_id: &str,
        event: &str,
        user_id: u64,
    ) -> FormPost {
        // Install and update events carry the user's fresh pair; an uninstall none, and a
        // payment, as the docs show it, neither tokens nor `application_token`.
        let with_tokens = matches!(event, "ONAPPINSTALL" | "ONAPPUPDATE");
        let with_app_token = event != "ONAPPPAYMENT";
        let issued = with_tokens.then(|| self.issue(member_id, user_id, client_id));
        let now = self.now();
        let server_endpoint = self.server_endpoint(member_id);
        let Some(portal) = self.portals.get(member_id) else {
            return FormPost::default();
        };
        let install = portal.installs.get(client_id);
        let mut form: Vec<(String, String)> = vec![
            ("event".into(), event.to_owned()),
            ("event_handler_id".into(), "1".into()),
            ("data[LANGUAGE_ID]".into(), "en".into()),
            ("ts".into(), now.to_string()),
            ("auth[domain]".into(), portal.domain.clone()),
            ("auth[server_endpoint]".into(), server_endpoint),
            (
                "auth[client_endpoint]".into(),
                format!("http://{}/rest/", portal.domain),
            ),
            ("auth[member_id]".into(), member_id.as_str().to_owned()),
        ];
        if with_app_token {
            form.push((
                "auth[application_token]".into(),
                install
                    .map(|i| i.application_token.clone())
                    .unwrap_or_default(),
            ));
        }
        if let Some(issued) = issued {
            let version = install.map_or(1, |i| i.version).to_string();
            form.extend([
                ("data[VERSION]".into(), version.clone()),
                ("data[PREVIOUS_VERSION]".into(), version),
                ("data[ACTIVE]".into(), "Y".into()),
                ("data[INSTALLED]".into(), "Y".into()),
                ("auth[access_token]".into(), issued.access),
                ("auth[refresh_token]".into(), issued.refresh),
                ("auth[expires]".into(), issued.expires_at.to_string()),
                ("auth[expires_in]".into(), ACCESS_TTL.to_string()),
                (
                    "auth[scope]".into(),
                    install.map(|i| i.scope.clone()).unwrap_or_default(),
                ),
                ("auth[status]".into(), portal.licence.clone()),
                ("auth[user_id]".into(), user_id.to_string()),
            ]);
        }
        FormPost {
            query: Vec::new(),
            form,
        }
    }

    /// Uninstalls the app: every token dies and the bindings go (`docs/bitrix24.md`, "Uninstall").
    /// Returns the `ONAPPUNINSTALL` event and the handlers it is to be delivered to.
    pub fn uninstall(
        &mut self,
        member_id: &MemberId,
        client_id: &str,
        clean: bool,
    ) -> (FormPost, Vec<String>) {
        let mut payload = self.event(member_id, client_id, "ONAPPUNINSTALL", 0);
        payload
            .form
            .push(("data[CLEAN]".into(), u8::from(clean).to_string()));
        self.revoke_portal_tokens(member_id, client_id);
        let portal = self.portals.get_mut(member_id);
        // Bitrix24 removes an app's bots with the app (`docs/bitrix24.md`, "Chat-bots 2.0").
        let install = portal.and_then(|p| {
            p.bots.retain(|b| b.client_id != client_id);
            p.installs.remove(client_id)
        });
        let handlers = install
            .map(|i| {
                i.events
                    .into_iter()
                    .filter(|e| e.event == "ONAPPUNINSTALL")
                    .map(|e| e.handler)
                    .collect()
            })
            .unwrap_or_default();
        (payload, handlers)
    }

    /// Updates the app to `version` on a portal: Bitrix24 removes the app's event handlers on
    /// every update (`docs/bitrix24.md`, "Events"). Returns the `ONAPPUPDATE` event, which
    /// carries the tokens of `user_id`.
    pub fn update_app(
        &mut self,
        member_id: &MemberId,
        client_id: &str,
        version: u32,
        user_id: u64,
    ) -> FormPost {
        let previous = self
            .portals
            .get_mut(member_id)
            .and_then(|p| p.installs.get_mut(client_id))
            .map(|install| {
                install.events.clear();
                std::mem::replace(&mut install.version, version)
            });
        let mut post = self.event(member_id, client_id, "ONAPPUPDATE", user_id);
        if let Some(previous) = previous {
            post = post.with("data[PREVIOUS_VERSION]", &previous.to_string());
        }
        post
    }
}
