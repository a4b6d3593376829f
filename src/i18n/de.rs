//! Deutsch.

use super::Text;

pub static TEXT: Text = Text {
    app_name: "Status",
    install_done_title: "Status ist installiert",
    install_done_body: "Alle Mitarbeitenden können jetzt ihren Messenger-Status selbst setzen: online, nicht stören, abwesend oder in der Pause.",
    install_done_next: "Sie finden die App im Messenger unter „Mehr“ und im Anwendungsmenü.",
    install_finishing: "Installation wird abgeschlossen…",
    bad_request_title: "Diese Anfrage konnte nicht gelesen werden",
    bad_request_body: "Bitrix24 hat etwas Unerwartetes gesendet. Schließen Sie dieses Fenster und öffnen Sie die App erneut aus dem Portal.",
    not_verified_title: "Bitrix24 konnte diese Anfrage nicht bestätigen",
    not_verified_body: "Die Zugangsdaten des Portals wurden nicht bestätigt, daher wurde nichts geändert. Öffnen Sie die App erneut aus Ihrem Bitrix24-Portal.",
    admin_only_body: "Nur ein Portal-Administrator kann diese App installieren. Bitten Sie Ihren Administrator, sie aus dem Bitrix24 Market zu installieren.",
    unavailable_title: "Bitrix24 antwortet nicht",
    unavailable_body: "Ihr Portal oder der Anmeldeserver von Bitrix24 hat nicht rechtzeitig geantwortet. Es wurde nichts geändert; bitte versuchen Sie es in einer Minute erneut.",
    not_installed_title: "Die App ist auf diesem Portal nicht installiert",
    not_installed_body: "Bitten Sie Ihren Portal-Administrator, „Status“ aus dem Bitrix24 Market (Anwendungen → Market) zu installieren, und öffnen Sie die App dann erneut.",
    sign_in_failed_title: "Die Anmeldung hat nicht funktioniert",
    sign_in_state_body: "Dieser Anmeldelink wurde schon verwendet oder ist abgelaufen. Beginnen Sie neu; es dauert nur Sekunden.",
    sign_in_refused_body: "Bitrix24 hat die Anmeldung abgelehnt. Versuchen Sie es erneut; wenn es weiter fehlschlägt, bitten Sie Ihren Administrator, die App neu zu installieren.",
    sign_in_again: "Erneut anmelden",
    bad_domain_body: "Das ist keine Adresse eines Bitrix24-Portals. Geben Sie sie so ein: ihrefirma.bitrix24.de.",
    internal_body: "Bei uns ist etwas schiefgelaufen. Es wurde nichts geändert; bitte versuchen Sie es in einer Minute erneut.",
    signed_in_title: "Sie sind angemeldet",
    signed_in_as: "Angemeldet als",
    bindings_failed_body: "Die App konnte ihre Menüeinträge gerade nicht zu Ihrem Portal hinzufügen. Nichts ist verloren: Öffnen Sie die App erneut, um die Installation abzuschließen.",
};
