// Scorecard behaviour: language switch (remembered when the browser allows), drill-down links, print.
// No network, no libraries; everything works from file://.
(function () {
  "use strict";
  var KEY = "sachsong.scorecard.lang";
  var root = document.documentElement;

  function remembered() {
    try { return window.localStorage.getItem(KEY); } catch (e) { return null; } // file:// may refuse storage
  }
  function remember(lang) {
    try { window.localStorage.setItem(KEY, lang); } catch (e) { /* not stored: the switch still works */ }
  }
  function labels() {
    try { return JSON.parse(document.getElementById("labels").textContent); } catch (e) { return {}; }
  }
  function setLanguage(lang) {
    root.setAttribute("data-lang", lang);
    root.setAttribute("lang", lang);
    var button = document.getElementById("lang-toggle");
    if (button) {
      button.setAttribute("aria-pressed", lang === "en" ? "true" : "false");
      var hint = (labels().switch_language_hint || {})[lang];
      if (hint) { button.setAttribute("title", hint); }
    }
  }
  function openTarget(id) {
    var target = id && document.getElementById(id);
    if (target && target.tagName === "DETAILS") {
      target.open = true;
      target.scrollIntoView({ block: "start" });
      var summary = target.querySelector("summary");
      if (summary) { summary.focus(); }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var saved = remembered();
    setLanguage(saved === "en" || saved === "vi" ? saved : "vi");
    var toggle = document.getElementById("lang-toggle");
    if (toggle) {
      toggle.addEventListener("click", function () {
        var next = root.getAttribute("data-lang") === "en" ? "vi" : "en";
        setLanguage(next);
        remember(next);
      });
    }
    var printButton = document.getElementById("print-button");
    if (printButton) { printButton.addEventListener("click", function () { window.print(); }); }
    document.querySelectorAll("a[data-open]").forEach(function (link) {
      link.addEventListener("click", function () { openTarget(link.getAttribute("data-open")); });
    });
    window.addEventListener("hashchange", function () { openTarget(window.location.hash.slice(1)); });
    if (window.location.hash) { openTarget(window.location.hash.slice(1)); }
  });

  // Printed scorecards show every commune's details.
  var openedForPrint = [];
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details:not([open])").forEach(function (d) { d.open = true; openedForPrint.push(d); });
  });
  window.addEventListener("afterprint", function () {
    openedForPrint.forEach(function (d) { d.open = false; });
    openedForPrint = [];
  });
})();
