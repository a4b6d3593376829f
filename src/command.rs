//! What a chat command asks for (`docs/users.md`, "Chat commands"): `/dnd`, `/away`, `/break`
//! with an optional while — `30m`, `1h`, `2h`, `until 14:00`, `today` — `/online`, `/status`
//! with an optional colleague, and `/focus`. Read from the line the portal's own message holds
//! (`bitrix24::bot::confirm`), never from the event.

use bitrix24::domain::{Status, UserId};

/// The commands the app's bot registers, each usable in every chat.
pub const COMMANDS: [&str; 6] = ["dnd", "away", "break", "online", "status", "focus"];

/// How long a status set from a chat lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum While {
    /// Until changed.
    Good,
    /// For this many minutes.
    Minutes(u16),
    /// Until this time of day (minutes after midnight) in the user's zone.
    Until(u16),
    /// Until the end of the user's working day.
    Today,
}

/// A colleague a command names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// Mentioned with `@`: the message holds `[USER=12]Anna Smith[/USER]`.
    Mentioned(UserId),
    /// Typed as text, lower case: a name or part of one.
    Named(String),
}

/// A command as the user typed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Set a status, for a while.
    Set(Status, While),
    /// Say what the user's status is and why.
    Status,
    /// Say what a colleague's status is, until when.
    StatusOf(Who),
    /// Say who in the user's department is not available, until when.
    Focus,
    /// Not understood: the bot answers with its help.
    Help,
}

/// The longest while a command accepts, in minutes: the app's timers end within a week.
const LONGEST: u32 = 7 * 24 * 60;

/// Reads a command line such as `/dnd 1h`, `/away until 14:00` or `/status @Anna`.
pub fn parse(line: &str) -> Command {
    let line = line.trim();
    let (name, tail) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let name = name.trim_start_matches('/').to_lowercase();
    let rest: Vec<String> = tail.split_whitespace().map(str::to_lowercase).collect();
    let status = match name.as_str() {
        "dnd" => Status::Dnd,
        "away" => Status::Away,
        "break" => Status::Break,
        "online" if rest.is_empty() => return Command::Set(Status::Online, While::Good),
        "status" if rest.is_empty() => return Command::Status,
        "status" => return colleague(tail).map_or(Command::Help, Command::StatusOf),
        "focus" if rest.is_empty() => return Command::Focus,
        _ => return Command::Help,
    };
    match while_of(&rest) {
        Some(lasting) => Command::Set(status, lasting),
        None => Command::Help,
    }
}

/// `[USER=12]Anna Smith[/USER]` (a mention, as the portal stores it), `@Anna` or `Anna Smith`.
fn colleague(text: &str) -> Option<Who> {
    let text = text.trim();
    if let Some(inside) = text
        .strip_prefix("[USER=")
        .or_else(|| text.strip_prefix("[user="))
    {
        // The tag may carry more than the id (`[USER=12 REPLACE]`); the id comes first.
        let id: String = inside.chars().take_while(char::is_ascii_digit).collect();
        return id
            .parse()
            .ok()
            .and_then(|id| UserId::new(id).ok())
            .map(Who::Mentioned);
    }
    let name = text.trim_start_matches('@').trim().to_lowercase();
    let plain = !name.is_empty()
        && name.chars().count() <= 100
        && !name.chars().any(|c| c.is_control() || c == '[' || c == ']');
    plain.then_some(Who::Named(name))
}

fn while_of(words: &[String]) -> Option<While> {
    match words {
        [] => Some(While::Good),
        [one] if one == "today" => Some(While::Today),
        [until, at] if until == "until" => clock(at).map(While::Until),
        [amount] => minutes(amount).map(While::Minutes),
        _ => None,
    }
}

/// `30m`, `90min`, `1h`, `2h`, `1.5h`: minutes, at most a week.
fn minutes(text: &str) -> Option<u16> {
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let per = match unit {
        "m" | "min" | "mins" => 1.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 60.0,
        _ => return None,
    };
    let total = (number * per).round();
    (total >= 1.0 && total <= f64::from(LONGEST))
        .then(|| u16::try_from(total as u32).ok())
        .flatten()
}

/// `14:00` or `9:30`: minutes after midnight.
fn clock(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_read_as_people_type_them() {
        assert_eq!(parse("/dnd"), Command::Set(Status::Dnd, While::Good));
        assert_eq!(
            parse("/DND 1h"),
            Command::Set(Status::Dnd, While::Minutes(60))
        );
        assert_eq!(
            parse("/away 30m"),
            Command::Set(Status::Away, While::Minutes(30))
        );
        assert_eq!(
            parse("/break 1.5h"),
            Command::Set(Status::Break, While::Minutes(90))
        );
        assert_eq!(
            parse("/dnd until 14:00"),
            Command::Set(Status::Dnd, While::Until(14 * 60))
        );
        assert_eq!(
            parse("/away today"),
            Command::Set(Status::Away, While::Today)
        );
        assert_eq!(parse("/online"), Command::Set(Status::Online, While::Good));
        assert_eq!(parse("/status"), Command::Status);
        assert_eq!(parse("/focus"), Command::Focus);
    }

    #[test]
    fn a_colleague_is_mentioned_or_named() {
        let mentioned = |id| Command::StatusOf(Who::Mentioned(UserId::new(id).expect("id")));
        assert_eq!(parse("/status [USER=12]Anna Smith[/USER]"), mentioned(12));
        assert_eq!(parse("/status [USER=7 REPLACE]Ivan[/USER]"), mentioned(7));
        assert_eq!(
            parse("/status @Anna  Smith"),
            Command::StatusOf(Who::Named("anna  smith".to_owned()))
        );
        assert_eq!(parse("/status [USER=x]Anna[/USER]"), Command::Help);
        assert_eq!(parse("/status [CHAT=3]Room[/CHAT]"), Command::Help);
        assert_eq!(parse("/status @"), Command::Help);
    }

    #[test]
    fn anything_else_asks_for_help() {
        for line in [
            "/dnd forever",
            "/dnd 0m",
            "/dnd 9999h",
            "/dnd until 25:00",
            "/dnd until noon",
            "/online 1h",
            "/focus now",
            "/coffee",
            "/dnd 1h please",
        ] {
            assert_eq!(parse(line), Command::Help, "{line}");
        }
    }
}
