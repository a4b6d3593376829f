// A stand-in for the Bitrix24 JS library (//api.bitrix24.com/api/v1/) for the emulated
// portal: the same calls an app makes — BX24.init, installFinish, fitWindow, resizeWindow,
// getAuth, refreshAuth — talking to the portal page around the frame over postMessage, as the
// real library does.
(function () {
  "use strict";
  // The portal around the frame is the one that opened it: DOMAIN and PROTOCOL travel in the
  // frame's address, since one library serves every portal.
  var script = document.currentScript;
  var params = new URLSearchParams(window.location.search);
  var domain = params.get("DOMAIN");
  var portalOrigin = domain
    ? (params.get("PROTOCOL") === "1" ? "https://" : "http://") + domain
    : (script ? new URL(script.src).origin : "*");
  var pending = {};
  var sequence = 0;
  var auth = null;

  function call(name, args, done) {
    sequence += 1;
    if (done) {
      pending[sequence] = done;
    }
    window.parent.postMessage({ bx24: true, id: sequence, name: name, args: args || {} }, portalOrigin);
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== portalOrigin || !event.data || !event.data.bx24reply) {
      return;
    }
    var done = pending[event.data.id];
    delete pending[event.data.id];
    if (done) {
      done(event.data.result);
    }
  });

  function height() {
    return Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0);
  }

  window.BX24 = {
    init: function (done) {
      call("init", {}, function (result) {
        auth = result;
        if (done) {
          done();
        }
      });
    },
    installFinish: function () {
      call("installFinish", {});
    },
    fitWindow: function (done) {
      call("resizeWindow", { height: height() }, done);
    },
    resizeWindow: function (width, heightPx, done) {
      call("resizeWindow", { width: width, height: heightPx }, done);
    },
    getAuth: function () {
      return auth || false;
    },
    refreshAuth: function (done) {
      call("refreshAuth", {}, function (result) {
        auth = result;
        if (done) {
          done(result);
        }
      });
    }
  };
})();
