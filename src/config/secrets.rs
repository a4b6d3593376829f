//! Secrets, read from the environment (or `.env`) only: a command-line flag would show them to
//! every user of the host in `/proc/<pid>/cmdline`. Each may instead be given as `NAME_FILE`,
//! the path of a file holding it, as Docker and Kubernetes secrets and systemd credentials
//! provide them.

use super::ConfigError;

/// The settings that are secret.
#[derive(Clone, Default)]
pub struct Secrets {
    /// `B24_CLIENT_SECRET`.
    pub client_secret: Option<String>,
    pub app_secret: Option<String>,
    pub app_secret_previous: Option<String>,
    /// `DATABASE_URL` (it may carry a password).
    pub database_url: Option<String>,
    /// `TARGET_DATABASE_URL`: where `migrate-store` copies to (it may carry a password).
    pub target_database_url: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(***)")
    }
}

/// The secrets' variables (each may also be given as `NAME_FILE`).
pub const SECRET_NAMES: [&str; 5] = [
    "B24_CLIENT_SECRET",
    "APP_SECRET",
    "APP_SECRET_PREVIOUS",
    "DATABASE_URL",
    "TARGET_DATABASE_URL",
];

/// The default database: a file beside the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/b24-status.db";

impl Secrets {
    /// Every secret from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Every secret from `lookup` (the environment, or a test's map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let read = |name: &str| read_one(name, &lookup);
        Ok(Self {
            client_secret: read("B24_CLIENT_SECRET")?,
            app_secret: read("APP_SECRET")?,
            app_secret_previous: read("APP_SECRET_PREVIOUS")?,
            database_url: read("DATABASE_URL")?,
            target_database_url: read("TARGET_DATABASE_URL")?,
        })
    }

    /// `DATABASE_URL`, or the default SQLite file.
    pub fn database_url(&self) -> &str {
        self.database_url.as_deref().unwrap_or(DEFAULT_DATABASE_URL)
    }
}

/// `name` itself, or the contents of the file `name_FILE` names; both at once is a mistake
/// worth stopping for. An empty value counts as unset, as a blank line in `.env` means.
fn read_one(
    name: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConfigError> {
    let file_var = format!("{name}_FILE");
    let value = lookup(name).filter(|v| !v.is_empty());
    let path = lookup(&file_var).filter(|v| !v.is_empty());
    match (value, path) {
        (Some(_), Some(_)) => Err(ConfigError::new(format!(
            "both {name} and {file_var} are set: keep one"
        ))),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::new(format!(
                    "{file_var} names {path:?}, which cannot be read: {e}"
                ))
            })?;
            // Files written by `echo` or an editor end in a newline that is no part of the secret.
            let text = text.trim_end_matches(['\n', '\r']);
            if text.is_empty() {
                return Err(ConfigError::new(format!(
                    "{file_var} names {path:?}, which is empty"
                )));
            }
            Ok(Some(text.to_owned()))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, String)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn a_secret_comes_from_its_variable_or_its_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("app_secret");
        std::fs::write(&path, "from-the-file\n").expect("written");
        let file = path.to_string_lossy().into_owned();
        let pairs = [
            ("APP_SECRET_FILE", file.clone()),
            ("B24_CLIENT_SECRET", "plain".to_owned()),
        ];
        let secrets = Secrets::from_lookup(lookup(&pairs)).expect("read");
        assert_eq!(secrets.app_secret.as_deref(), Some("from-the-file"));
        assert_eq!(secrets.client_secret.as_deref(), Some("plain"));
        assert_eq!(secrets.database_url(), DEFAULT_DATABASE_URL);
        assert!(!format!("{secrets:?}").contains("plain"));

        let both = [("APP_SECRET", "x".to_owned()), ("APP_SECRET_FILE", file)];
        let refused = Secrets::from_lookup(lookup(&both)).expect_err("both");
        assert!(refused.to_string().contains("keep one"), "{refused}");

        let missing = [("DATABASE_URL_FILE", "/nonexistent/db-url".to_owned())];
        let refused = Secrets::from_lookup(lookup(&missing)).expect_err("missing file");
        assert!(refused.to_string().contains("cannot be read"), "{refused}");

        let empty_path = dir.path().join("empty");
        std::fs::write(&empty_path, "\n").expect("written");
        let empty = [("APP_SECRET_FILE", empty_path.to_string_lossy().into_owned())];
        let refused = Secrets::from_lookup(lookup(&empty)).expect_err("empty");
        assert!(refused.to_string().contains("empty"), "{refused}");
    }
}
