//! The catalogue's shape: every sentence a language must have, so a sentence added here does
//! not compile until each language says it.

/// One language's sentences.
#[derive(Debug)]
pub struct Text {
    pub app_name: &'static str,
    /// Install page: heading after success.
    pub install_done_title: &'static str,
    /// Install page: what happened.
    pub install_done_body: &'static str,
    /// Install page: where to find the app.
    pub install_done_next: &'static str,
    /// Install page: shown while the portal finishes.
    pub install_finishing: &'static str,
    /// Error page heading: a request we could not read.
    pub bad_request_title: &'static str,
    /// Error page: a request we could not read.
    pub bad_request_body: &'static str,
    /// Error page heading: verification failed.
    pub not_verified_title: &'static str,
    /// Error page: verification failed.
    pub not_verified_body: &'static str,
    /// Error page: only administrators install.
    pub admin_only_body: &'static str,
    /// Error page heading: Bitrix24 did not answer.
    pub unavailable_title: &'static str,
    /// Error page: Bitrix24 did not answer.
    pub unavailable_body: &'static str,
    /// Error page heading: app not installed on that portal.
    pub not_installed_title: &'static str,
    /// Error page: app not installed; what the admin should do.
    pub not_installed_body: &'static str,
    /// Error page heading: sign-in failed.
    pub sign_in_failed_title: &'static str,
    /// Error page: the sign-in link was used or expired.
    pub sign_in_state_body: &'static str,
    /// Error page: Bitrix24 refused the sign-in.
    pub sign_in_refused_body: &'static str,
    /// Link: start the sign-in again.
    pub sign_in_again: &'static str,
    /// Error page: the portal address is not acceptable.
    pub bad_domain_body: &'static str,
    /// Error page: internal failure.
    pub internal_body: &'static str,
    /// Status page: who is signed in (followed by the name).
    pub signed_in_as: &'static str,
    /// Error page: the app's menu entries could not be added.
    pub bindings_failed_body: &'static str,
    /// A portal holds as many accounts as the app keeps for one.
    pub accounts_full_body: &'static str,
    /// The page heading.
    pub page_title: &'static str,
    /// One line under the heading.
    pub page_intro: &'static str,
    /// Status name: online.
    pub status_online: &'static str,
    /// What online does.
    pub status_online_about: &'static str,
    /// Status name: do not disturb.
    pub status_dnd: &'static str,
    /// What do not disturb does.
    pub status_dnd_about: &'static str,
    /// Status name: away.
    pub status_away: &'static str,
    /// What away does.
    pub status_away_about: &'static str,
    /// Status name: on a break.
    pub status_break: &'static str,
    /// What on a break does.
    pub status_break_about: &'static str,
    /// Marks the current status.
    pub current: &'static str,
    /// What the new messenger shows.
    pub messenger_note: &'static str,
    /// After a change (followed by the status name).
    pub saved: &'static str,
    /// While saving.
    pub saving: &'static str,
    /// The browser could not reach us.
    pub offline: &'static str,
    /// Error page: the portal's token for this user was refused.
    pub token_rejected_body: &'static str,
    /// API: body unreadable.
    pub api_bad_request: &'static str,
    /// API: not JSON.
    pub api_unsupported: &'static str,
    /// API: not one of the four statuses.
    pub api_bad_status: &'static str,
    /// API: `until` is not a valid end for a timed status.
    pub api_bad_until: &'static str,
    /// Page: a timed status ended while the user's tokens were dead (`{status}`, `{time}`,
    /// `{then}`).
    pub missed_restore: &'static str,
    /// API: session missing, forged or expired.
    pub api_session: &'static str,
    /// API: the user must reopen the app.
    pub api_reauth: &'static str,
    /// API: the portal's rate limit.
    pub api_rate_limited: &'static str,
    /// API: Bitrix24 down.
    pub api_unavailable: &'static str,
    /// API: missing scope.
    pub api_scope: &'static str,
    /// API: access restricted by the admin.
    pub api_access_denied: &'static str,
    /// API: the admin must confirm the method.
    pub api_confirm: &'static str,
    /// API: any other refusal.
    pub api_refused: &'static str,
    /// Error page heading: the portal's rate limit.
    pub busy_title: &'static str,
    /// Error page: wait and retry; `{seconds}` is replaced.
    pub busy_body: &'static str,
    /// Error page heading: a permission is missing.
    pub scope_title: &'static str,
    /// Error page heading: the admin restricted access.
    pub access_title: &'static str,
    /// Error page heading: the admin must approve.
    pub confirm_title: &'static str,
    /// Error page heading: an uninstall is being confirmed.
    pub removing_title: &'static str,
    /// Error page and API: an uninstall is being confirmed.
    pub removing_body: &'static str,
    /// The title when the provider paused the app on the portal (`b24-status suspend`).
    pub paused_title: &'static str,
    /// What that means for the user.
    pub paused_body: &'static str,
    /// The title when the app's trial or paid period on the portal ended (402).
    pub payment_title: &'static str,
    /// What that means for the user, and what an administrator does about it (page and API).
    pub payment_body: &'static str,
    /// For administrators, during the grace period after the period ran out: renew it.
    pub payment_grace: &'static str,
    /// Error page heading: Bitrix24 refused the change.
    pub refused_title: &'static str,
    /// Install page: a placement the portal refused; `{placement}` and `{code}` are replaced.
    pub install_placement_refused: &'static str,
    /// Install page: the permission a refused placement needs; `{scope}` is replaced.
    pub install_scope_hint: &'static str,
    /// Page: the label of the duration choice.
    pub for_label: &'static str,
    /// Page: a status for good.
    pub for_until_changed: &'static str,
    /// Page: for 30 minutes.
    pub for_30m: &'static str,
    /// Page: for an hour.
    pub for_1h: &'static str,
    /// Page: for two hours.
    pub for_2h: &'static str,
    /// Page: until the working day ends at `{time}`.
    pub for_workday: &'static str,
    /// Page: a timed status runs (`{status}`, `{time}`, `{then}`).
    pub running: &'static str,
    /// Page: end a timed status now.
    pub end_now: &'static str,
    /// Page: the schedule's heading.
    pub schedule_title: &'static str,
    /// Page: what a schedule does.
    pub schedule_intro: &'static str,
    /// Page: no rules yet.
    pub schedule_empty: &'static str,
    /// Page: a rule on all seven days.
    pub every_day: &'static str,
    /// Page: Monday to Sunday, short, comma-separated.
    pub days_short: &'static str,
    /// A time of day as the language's Bitrix24 interface shows it (jiff's `strftime`): 12-hour
    /// in English, 24-hour elsewhere.
    pub time_format: &'static str,
    /// January to December, short, as a date says them ("7 дек.", "Dec 7").
    pub months_short: &'static str,
    /// A time on another day (`{day}`, `{month}`, `{time}`).
    pub date_time: &'static str,
    /// A time tomorrow (`{time}`).
    pub tomorrow_at: &'static str,
    /// Page: remove a rule.
    pub remove: &'static str,
    /// Page: the add-rule button and heading.
    pub add_rule: &'static str,
    /// Page: the days of a rule.
    pub rule_days: &'static str,
    /// Page: a rule's start.
    pub rule_from: &'static str,
    /// Page: a rule's end.
    pub rule_to: &'static str,
    /// Page: a rule's status.
    pub rule_status: &'static str,
    /// Page: the time zone field.
    pub zone_label: &'static str,
    /// Page: what the time zone is for.
    pub zone_hint: &'static str,
    /// Page: save the time zone.
    pub zone_save: &'static str,
    /// Page: after a schedule change.
    pub schedule_saved: &'static str,
    /// Page: a scheduled change at `{time}` could not be made while the user's tokens were dead.
    pub missed_change: &'static str,
    /// Schedule refused: not the documented shape (`{rule}`, `{field}`).
    pub sched_shape: &'static str,
    /// Schedule refused: not a time zone name.
    pub sched_zone: &'static str,
    /// Schedule refused: more than 20 rules.
    pub sched_too_many: &'static str,
    /// Schedule refused: a bad day (`{rule}`).
    pub sched_day: &'static str,
    /// Schedule refused: a bad time (`{rule}`, `{field}`).
    pub sched_time: &'static str,
    /// Schedule refused: `from` not before `to` (`{rule}`).
    pub sched_order: &'static str,
    /// Schedule refused: a bad status (`{rule}`).
    pub sched_status: &'static str,
    /// Schedule refused: two rules overlap (`{rule}`, `{other}`, `{day}`).
    pub sched_overlap: &'static str,
    /// The page's tab: the user's own status.
    pub tab_status: &'static str,
    /// The page's tab: the team board.
    pub tab_team: &'static str,
    /// What the tabs are, for screen readers.
    pub tabs_label: &'static str,
    /// The team board's heading.
    pub team_title: &'static str,
    /// What the board shows.
    pub team_intro: &'static str,
    /// The department picker's label.
    pub team_department: &'static str,
    /// The picker's choice for every department.
    pub team_everyone: &'static str,
    /// The search field's label.
    pub team_search: &'static str,
    /// The filter form's button.
    pub team_show: &'static str,
    /// No colleague matches.
    pub team_empty: &'static str,
    /// A timed status's end on the board (`{time}`).
    pub team_until: &'static str,
    /// The vacation mark.
    pub team_absent: &'static str,
    /// Marks the viewer's own row.
    pub team_you: &'static str,
    /// Where the pager is (`{page}`, `{pages}`).
    pub team_page: &'static str,
    /// The pager's previous page.
    pub team_previous: &'static str,
    /// The pager's next page.
    pub team_next: &'static str,
    /// When statuses were read (`{time}`).
    pub team_read_at: &'static str,
    /// A scope the board needs is not granted (`{scope}`).
    pub team_scope: &'static str,
    /// The portal's REST lacks a method (`{method}`).
    pub team_method: &'static str,
    /// The viewer is not one of the portal's employees (extranet, guest).
    pub team_employees_only: &'static str,
    /// The list's label for screen readers.
    pub team_list: &'static str,
    /// The board's query is refused (`{field}`).
    pub api_bad_query: &'static str,
    /// The automatic status card's heading.
    pub auto_heading: &'static str,
    /// What automatic statuses do.
    pub auto_intro: &'static str,
    /// The meetings switch; the status picker follows it.
    pub auto_meetings: &'static str,
    /// The working-day switch.
    pub auto_working_day: &'static str,
    /// The card's save button.
    pub auto_save: &'static str,
    /// Said once the switches are saved.
    pub auto_saved: &'static str,
    /// The portal has not granted `calendar`.
    pub auto_lacks_calendar: &'static str,
    /// The portal has not granted `timeman`.
    pub auto_lacks_timeman: &'static str,
    /// No administrator's pair is stored to read working days with.
    pub auto_lacks_admin: &'static str,
    /// Why the status is what it is: a meeting (`{status}`, `{time}`).
    pub why_meeting: &'static str,
    /// Why the status is what it is: a paused working day (`{status}`).
    pub why_day_paused: &'static str,
    /// Why the status is what it is: a closed working day (`{status}`).
    pub why_day_closed: &'static str,
    /// Why the status is what it is: a schedule rule (`{status}`, `{time}`).
    pub why_schedule: &'static str,
    /// Automation switches are refused (`{field}`).
    pub api_bad_automation: &'static str,
    /// The bot set a status (`{status}`).
    pub bot_done: &'static str,
    /// The bot set a status for a while (`{status}`, `{time}`).
    pub bot_done_until: &'static str,
    /// The bot says the user's status (`{status}`).
    pub bot_your_status: &'static str,
    /// The bot holds no pair of the user's: open the app once.
    pub bot_open_app: &'static str,
    /// The bot's commands.
    pub bot_help: &'static str,
    /// The bot, added to a chat, says what it does (its commands follow).
    pub bot_welcome: &'static str,
    /// The bot cannot tell which colleague `/status` names.
    pub bot_not_one: &'static str,
    /// Heads `/focus`'s list (`{department}`).
    pub bot_focus: &'static str,
    /// `/focus` finds everyone available (`{department}`).
    pub bot_focus_none: &'static str,
    /// Ends a cut `/focus` list (`{count}`).
    pub bot_focus_more: &'static str,
    /// The page names the chat commands.
    pub chat_hint: &'static str,
    /// The page says what chat commands need from the administrator.
    pub chat_lacks: &'static str,
    /// The four statuses as one radio group, for screen readers.
    pub status_group: &'static str,
}
