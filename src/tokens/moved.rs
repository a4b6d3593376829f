//! A renamed portal answers 302 to its new address (`docs/bitrix24.md`, "Renamed portals").
//! The `Location` comes from whoever answered at the old address, so the new domain is stored
//! only after the portal's OAuth server confirms it for this token.

use url::Url;

use super::hot::Hot;
use super::{CallError, TokenManager};
use bitrix24::domain::{MemberId, PortalDomain};
use bitrix24::{self as bitrix, verify};

impl TokenManager {
    /// Checks the new address with the OAuth server, stores it keyed by `member_id`, and
    /// returns the endpoint to repeat the call at.
    pub(super) async fn follow_move(
        &self,
        member_id: &MemberId,
        hot: &Hot,
        location: &str,
    ) -> Result<Url, CallError> {
        let refuse =
            |why: &str| CallError::Bitrix(bitrix::Error::Refused(format!("portal moved: {why}")));
        let target = Url::parse(location).map_err(|_| refuse("the new location is not a URL"))?;
        let host = target
            .host_str()
            .ok_or_else(|| refuse("the new location has no host"))?;
        let authority = match target.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let domain =
            PortalDomain::parse(&authority).map_err(|_| refuse("the new host is not a domain"))?;
        let allow_http = self.settings.allow_http;
        let verified = verify::verify(
            &self.oauth,
            &hot.server,
            &hot.tokens.access,
            member_id,
            &domain,
            allow_http,
        )
        .await
        .map_err(|error| {
            tracing::warn!(%domain, %error, "a 302 names a domain the OAuth server did not confirm");
            refuse("the OAuth server did not confirm the new domain")
        })?;
        self.store
            .move_portal(
                member_id,
                &domain,
                &verified.client_endpoint,
                self.clock.now(),
            )
            .await?;
        tracing::info!(%domain, "portal renamed; stored its new address");
        Ok(verified.client_endpoint)
    }
}
