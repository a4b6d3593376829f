// Finishes the installation inside the portal (protocol doc §1.3): until installFinish() is
// called, Bitrix24 hides the app's placements and delivers no events.
(function () {
  "use strict";
  var state = document.getElementById("b24s-install-state");
  if (!window.BX24 || typeof window.BX24.init !== "function") {
    return;
  }
  if (state) {
    state.textContent = state.getAttribute("data-finishing");
  }
  window.BX24.init(function () {
    window.BX24.installFinish();
  });
})();
