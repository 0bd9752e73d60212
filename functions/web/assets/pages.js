// Progressive enhancements of the pages; every form works without them (the CAPTCHA aside).
// 1. Password rules are ticked off as the person types (the server checks them again).
// 2. The country list gets a search box, for phones where a long <select> cannot be typed into.
"use strict";

const checks = {
  too_short: (p, min) => [...p].length >= min,
  missing_uppercase: (p) => /\p{Lu}/u.test(p),
  missing_lowercase: (p) => /\p{Ll}/u.test(p),
  missing_digit: (p) => /\p{Nd}/u.test(p),
  missing_symbol: (p) => /[^\p{L}\p{Nd}\s]/u.test(p),
};

function liveRules() {
  const password = document.getElementById("password");
  const rules = document.querySelectorAll("#rules [data-rule]");
  if (!password || rules.length === 0) return;
  const min = Number(document.getElementById("rules").dataset.min || 8);
  const update = () => {
    for (const rule of rules) {
      const check = checks[rule.dataset.rule];
      if (!check) continue;
      const met = check(password.value, min);
      rule.classList.toggle("met", met);
      rule.classList.toggle("broken", !met && password.value.length > 0);
    }
  };
  password.addEventListener("input", update);
  update();
}

function countrySearch() {
  const select = document.getElementById("country");
  if (!select) return;
  const search = document.createElement("input");
  search.type = "search";
  search.id = "country-search";
  search.setAttribute("aria-label", select.dataset.searchLabel || "Search");
  search.setAttribute("aria-controls", "country");
  search.placeholder = select.dataset.searchLabel || "";
  select.before(search);
  const options = [...select.options];
  search.addEventListener("input", () => {
    const term = search.value.trim().toLowerCase();
    let first = null;
    for (const option of options) {
      const hit = term === "" || option.text.toLowerCase().includes(term);
      option.hidden = !hit;
      if (hit && !first) first = option;
    }
    if (first && term !== "") select.value = first.value;
  });
}

// 3. The CAPTCHA widget is vendored without its workers (so the CSP needs no blob: URL): its
//    solvers run from the worker files the page names, Argon2id for the Proof-of-Work v2
//    challenges the API issues, SHA-256 for v1 ones (CAPTCHA_ALTCHA_V1).
function captchaWorkers() {
  const widget = document.querySelector("altcha-widget");
  if (!widget || !globalThis.$altcha) return;
  const workers = { ARGON2ID: widget.dataset.argon2idWorker, "SHA-256": widget.dataset.shaWorker };
  for (const [algorithm, url] of Object.entries(workers)) {
    if (url) globalThis.$altcha.algorithms.set(algorithm, () => new Worker(url));
  }
}

liveRules();
countrySearch();
captchaWorkers();
