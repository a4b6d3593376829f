//! The emulator's data: apps, portals, users, tokens, bindings, faults, the call log and the
//! requests a portal's browser sends. Plain values; the rules live in `world.rs`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use bitrix24::domain::{MemberId, Status};

/// Access tokens live an hour (`docs/bitrix24.md`, "OAuth").
pub const ACCESS_TTL: i64 = 3600;
/// Authorisation codes live 30 seconds (`docs/bitrix24.md`, "OAuth").
pub const CODE_TTL: i64 = 30;

/// A registered app, as in the vendor account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppReg {
    pub secret: String,
    pub redirect_uri: Option<String>,
    pub install_url: Option<String>,
    pub app_url: Option<String>,
    pub scope: String,
    pub version: u32,
}

/// A portal user.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub last_name: String,
    pub admin: bool,
    pub status: Option<Status>,
    /// The profile's `TIME_ZONE` (an IANA name; empty when the user never chose one).
    #[serde(default)]
    pub time_zone: String,
    /// `UF_DEPARTMENT`: the departments the user belongs to.
    #[serde(default)]
    pub departments: Vec<u64>,
    /// `WORK_POSITION`.
    #[serde(default)]
    pub position: String,
    /// The end of the user's vacation or absence (ISO date), while one runs.
    #[serde(default)]
    pub absent_until: Option<String>,
    /// An extranet user: sees only the users of their extranet groups (here: other extranet
    /// users), never the company's employees (`docs/bitrix24.md`, "Reading colleagues").
    #[serde(default)]
    pub extranet: bool,
    /// The entries of their calendar.
    #[serde(default)]
    pub meetings: Vec<Meeting>,
    /// Their working day (time tracking).
    #[serde(default)]
    pub day: WorkDay,
    /// The usual end of their day in time tracking's settings (`UF_TM_MIN_FINISH`,
    /// `HH:MM:SS`), when set.
    #[serde(default)]
    pub work_end: Option<String>,
}

/// An entry of a user's calendar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    /// The entry's id, unique on the portal.
    pub id: u64,
    /// Its title.
    pub name: String,
    /// Unix seconds.
    pub from: i64,
    /// Unix seconds.
    pub to: i64,
    /// `ACCESSIBILITY`: `busy`, `absent`, `quest` or `free`.
    pub accessibility: String,
    /// An all-day entry (`DT_SKIP_TIME`).
    pub all_day: bool,
}

/// A working day as time tracking keeps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkDay {
    /// Not opened today (or closed).
    #[default]
    Closed,
    /// Opened at this unix second.
    Opened(i64),
    /// Paused; opened at this unix second.
    Paused(i64),
}

/// A department of the company structure (`department.get`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Department {
    pub id: u64,
    pub name: String,
    pub parent: Option<u64>,
    pub sort: i64,
}

/// The zone emulated users start with: a Bitrix24 profile names one when the user chose it.
pub const USER_TIME_ZONE: &str = "Europe/Berlin";

/// A placement binding made with `placement.bind`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlacementBinding {
    /// The placement code, upper case.
    pub placement: String,
    /// The URL the portal opens.
    pub handler: String,
    /// `TITLE`.
    pub title: String,
    /// `OPTIONS`, as sent.
    pub options: Value,
    /// `LANG_ALL`, as sent.
    pub lang_all: Value,
}

/// An event binding made with `event.bind`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBinding {
    /// The event, upper case.
    pub event: String,
    /// The URL the portal POSTs it to.
    pub handler: String,
    /// An offline event (kept for `event.offline.get`) rather than a POST.
    pub offline: bool,
}

/// The app's installation on one portal.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Install {
    /// `installFinish` happened.
    pub finished: bool,
    pub version: u32,
    pub application_token: String,
    pub scope: String,
    pub placements: Vec<PlacementBinding>,
    pub events: Vec<EventBinding>,
    /// Unix seconds when the app's paid period ends (`None`: it does not).
    #[serde(default)]
    pub paid_until: Option<i64>,
}

/// Which of Bitrix24's two regional OAuth servers issues a portal's tokens
/// (`docs/bitrix24.md`, "OAuth").
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Region {
    /// `oauth.bitrix.info`.
    #[default]
    West,
    /// `oauth.bitrix24.tech`.
    East,
}

/// The per-portal leaky bucket (`docs/bitrix24.md`, "Rate limit").
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Bucket {
    pub burst: f64,
    pub drain_per_sec: f64,
    #[serde(skip)]
    level: f64,
    #[serde(skip, default = "Instant::now")]
    last: Instant,
}

impl Bucket {
    pub fn new(burst: u32, drain_per_sec: f64) -> Self {
        Self {
            burst: f64::from(burst),
            drain_per_sec,
            level: 0.0,
            last: Instant::now(),
        }
    }

    /// Counts one request — a refused one too, the stricter reading of the docs
    /// (`docs/bitrix24.md`, "Rate limit"); `false` means it must be refused with 503.
    pub fn admit(&mut self) -> bool {
        let now = Instant::now();
        let drained = now.duration_since(self.last).as_secs_f64() * self.drain_per_sec;
        self.level = (self.level - drained).max(0.0) + 1.0;
        self.last = now;
        self.level <= self.burst
    }
}

/// A portal.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Portal {
    pub member_id: MemberId,
    /// Current `host:port`; a renamed portal's old listener redirects here.
    pub domain: String,
    pub licence: String,
    pub users: BTreeMap<u64, User>,
    pub installs: HashMap<String, Install>,
    pub bucket: Bucket,
    /// Who is "logged in" in the browser for `/oauth/authorize/`.
    pub browser_user: u64,
    /// The OAuth server that issues this portal's tokens.
    #[serde(default)]
    pub region: Region,
    /// The company structure.
    #[serde(default)]
    pub departments: Vec<Department>,
    /// Methods this portal's REST lacks, as on an on-premise portal of an older version:
    /// they answer `ERROR_METHOD_NOT_FOUND`.
    #[serde(default)]
    pub missing_methods: Vec<String>,
    /// The bots apps registered here.
    #[serde(default)]
    pub bots: Vec<super::bots::Bot>,
    /// Every chat's messages.
    #[serde(default)]
    pub messages: Vec<super::chat::Message>,
    /// REST requests being answered now, and the most there ever were at once.
    #[serde(skip)]
    pub in_flight: (usize, usize),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessRec {
    pub member_id: MemberId,
    pub user_id: u64,
    pub client_id: String,
    pub expires_at: i64,
    /// Killed by a rotation or an uninstall.
    pub revoked: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefreshRec {
    pub member_id: MemberId,
    pub user_id: u64,
    pub client_id: String,
    pub access: String,
    pub used: bool,
}

#[derive(Clone, Debug)]
pub struct CodeRec {
    pub member_id: MemberId,
    pub user_id: u64,
    pub client_id: String,
    pub expires_at: i64,
    pub used: bool,
}

/// Which server a request reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Server {
    /// The OAuth server of a region.
    OAuth(Region),
    /// A portal, by its id.
    Portal(MemberId),
}

/// One request the emulator answered.
#[derive(Clone, Debug)]
pub struct Call {
    /// Which server answered.
    pub server: Server,
    /// REST method (lowercase) or path for non-REST endpoints.
    pub method: String,
    /// The user whose token was used, when it was a known token.
    pub user_id: Option<u64>,
    /// The last 4 characters of the token used, for telling rotations apart in tests.
    pub token_tail: Option<String>,
    /// HTTP status of the answer.
    pub status: u16,
    /// The error code of the answer, if any.
    pub error: Option<String>,
    /// Whether any registered client secret appeared anywhere in the request.
    pub carried_client_secret: bool,
}

/// An injected failure.
#[derive(Clone, Debug)]
pub struct Fault {
    pub server: Option<Server>,
    pub method: Option<String>,
    pub kind: FaultKind,
    pub remaining: usize,
}

/// What an injected failure does.
#[derive(Clone, Debug)]
pub enum FaultKind {
    /// Answer with this HTTP status and Bitrix24 error code.
    Error {
        /// HTTP status.
        status: u16,
        /// Bitrix24 error code.
        code: String,
    },
    /// Wait this long before handling the request at all.
    Delay(Duration),
    /// Handle the request at once (a refresh rotates the pair), but send the answer only
    /// after this long: what a slow network does to a refresh (`docs/bitrix24.md`).
    SlowAnswer(Duration),
    /// Answer a token request with an `error` and HTTP 200, as Bitrix24 sometimes does.
    ErrorWith200 {
        /// OAuth error code.
        code: String,
    },
    /// Start answering, then break the connection mid-response.
    Reset,
}

/// A request as the portal's browser sends it: query string and form body (`docs/bitrix24.md`,
/// "Installation").
#[derive(Clone, Debug, Default)]
pub struct FormPost {
    /// Fields that travel in the query string.
    pub query: Vec<(String, String)>,
    /// Fields that travel in the form body.
    pub form: Vec<(String, String)>,
}

impl FormPost {
    /// The query string, encoded.
    pub fn query_string(&self) -> String {
        encode(&self.query)
    }

    /// The form body, encoded.
    pub fn body(&self) -> String {
        encode(&self.form)
    }

    /// The same request with `field` set to `value` wherever it occurs: how tests forge one.
    pub fn with(&self, field: &str, value: &str) -> Self {
        let swap = |pairs: &[(String, String)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        if k == field {
                            value.to_owned()
                        } else {
                            v.clone()
                        },
                    )
                })
                .collect()
        };
        Self {
            query: swap(&self.query),
            form: swap(&self.form),
        }
    }

    /// A field's value, from either part.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .chain(&self.form)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_admits_the_burst_then_refuses_then_drains() {
        let mut bucket = Bucket::new(3, 1000.0);
        bucket.drain_per_sec = 0.0;
        assert!(bucket.admit() && bucket.admit() && bucket.admit());
        assert!(!bucket.admit());
        assert!(!bucket.admit(), "a refused request counts too");
        assert!((bucket.level - 5.0).abs() < f64::EPSILON);
        bucket.drain_per_sec = 1000.0;
        // Long enough for the drain to empty the bucket.
        std::thread::sleep(Duration::from_millis(10));
        assert!(bucket.admit());
    }
}
