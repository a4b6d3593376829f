//! What a chat command asks for (`docs/users.md`, "Chat commands"): `/dnd`, `/away`, `/break`
//! with an optional while — `30m`, `1h`, `2h`, `until 14:00`, `today` — `/online`, and
//! `/status`. Read from the line the portal's own message holds (`bitrix24::bot::confirm`),
//! never from the event.

use bitrix24::domain::Status;

/// The commands the app's bot registers, each usable in every chat.
pub const COMMANDS: [&str; 5] = ["dnd", "away", "break", "online", "status"];

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

/// A command as the user typed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Set a status, for a while.
    Set(Status, While),
    /// Say what the user's status is and why.
    Status,
    /// Not understood: the bot answers with its help.
    Help,
}

/// The longest while a command accepts, in minutes: the app's timers end within a week.
const LONGEST: u32 = 7 * 24 * 60;

/// Reads a command line such as `/dnd 1h` or `/away until 14:00`.
pub fn parse(line: &str) -> Command {
    let mut words = line.split_whitespace();
    let name = words
        .next()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_lowercase();
    let rest: Vec<String> = words.map(str::to_lowercase).collect();
    let status = match name.as_str() {
        "dnd" => Status::Dnd,
        "away" => Status::Away,
        "break" => Status::Break,
        "online" if rest.is_empty() => return Command::Set(Status::Online, While::Good),
        "status" if rest.is_empty() => return Command::Status,
        _ => return Command::Help,
    };
    match while_of(&rest) {
        Some(lasting) => Command::Set(status, lasting),
        None => Command::Help,
    }
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
            "/status @anna",
            "/coffee",
            "/dnd 1h please",
        ] {
            assert_eq!(parse(line), Command::Help, "{line}");
        }
    }
}
