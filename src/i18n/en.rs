//! English.

use super::Text;

pub static TEXT: Text = Text {
    app_name: "Status",
    install_done_title: "Status is installed",
    install_done_body: "Every employee can now set their own messenger status: online, do not disturb, away or on a break.",
    install_done_next: "Find it in the messenger under “More”, or in the applications menu.",
    install_finishing: "Finishing the installation…",
    bad_request_title: "This request could not be read",
    bad_request_body: "Bitrix24 sent something this app did not expect. Close this window and open the app again from the portal.",
    not_verified_title: "Bitrix24 could not confirm this request",
    not_verified_body: "The portal's credentials did not check out, so nothing was changed. Open the app again from your Bitrix24 portal.",
    admin_only_body: "Only a portal administrator can install this app. Ask your administrator to install it from Bitrix24 Market.",
    unavailable_title: "Bitrix24 is not answering",
    unavailable_body: "Your portal or Bitrix24's sign-in server did not answer in time. Nothing was changed; please try again in a minute.",
    not_installed_title: "The app is not installed on this portal",
    not_installed_body: "Ask your portal administrator to install “Status” from Bitrix24 Market (Applications → Market), then open it again.",
    sign_in_failed_title: "Signing in did not work",
    sign_in_state_body: "This sign-in link was already used or has expired. Start again; it takes a few seconds.",
    sign_in_refused_body: "Bitrix24 refused the sign-in. Start again, and if it keeps failing, ask your administrator to reinstall the app.",
    sign_in_again: "Sign in again",
    bad_domain_body: "That is not the address of a Bitrix24 portal. Enter it like yourcompany.bitrix24.com.",
    internal_body: "Something went wrong on our side. Nothing was changed; please try again in a minute.",
    signed_in_title: "You are signed in",
    signed_in_as: "Signed in as",
    bindings_failed_body: "The app could not add its menu entries to your portal just now. Nothing is lost: open the app again to finish the installation.",
};
