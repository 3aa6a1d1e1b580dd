// The browser verifier's page: it gathers the files, hands them to the
// WebAssembly module (web/wasm: measure's own verify library) and shows its
// answer. It decides nothing itself: the verdict, the level of each check
// and their wording are the library's, as measure compare prints them.
// It makes no request after the module is loaded.
"use strict";

const $ = (id) => document.getElementById(id);

// What the page was given. Files are {name, data: Uint8Array, role}.
// keys are the publisher's keys, which only the person puts there (the
// key input, or a Trust button); offered are public keys that came with
// dropped or sorted files, which are trusted for nothing until then.
const state = {
  evidence: null, pasted: false,
  refs: null, keys: [], offered: [],
  certs: [], roots: [],
  firmware: null,
};

let ready = false;
let pending = null; // the time of a change made before the module was ready
let roles = [];

// Timings of the last run, for people and for the browser test.
window.measurePage = { state: "loading", result: null, explain: null, timings: {} };

window.measureReady = (version) => {
  ready = true;
  roles = JSON.parse(measureRoles());
  $("version").textContent = version ? "(" + version.slice(0, 12) + ")" : "";
  setStatus("Ready. Nothing you give this page leaves it.");
  window.measurePage.state = "ready";
  document.body.dataset.state = "ready";
  renderCerts();
  if (pending !== null) {
    run(pending);
  }
};

function setStatus(s) {
  $("status").textContent = s;
}

async function load() {
  const go = new Go();
  let result;
  try {
    result = await WebAssembly.instantiateStreaming(fetch("measure.wasm"), go.importObject);
  } catch (e) {
    // A server that does not say application/wasm: compile from the bytes.
    const resp = await fetch("measure.wasm");
    if (!resp.ok) {
      throw new Error("measure.wasm: " + resp.status + " " + resp.statusText + " (build it with scripts/build-web.sh)");
    }
    result = await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject);
  }
  go.run(result.instance);
}

load().catch((e) => {
  setStatus("The verifier could not be loaded: " + e.message);
  window.measurePage.state = "error";
  document.body.dataset.state = "error";
});

async function fileOf(f) {
  return { name: f.name, data: new Uint8Array(await f.arrayBuffer()), role: "" };
}

async function filesOf(list) {
  return Promise.all(Array.from(list, fileOf));
}

// Sort dropped or chosen files into their places by what the module says
// they are. Sorting never makes anything trusted: a public key is only
// offered (see renderOffered), and certificates go to the certificates, never
// to the roots to trust.
async function sort(list) {
  const unknown = [];
  const placed = [];
  for (const f of await filesOf(list)) {
    const kind = ready ? measureKind(f.name, f.data) : "";
    switch (kind) {
      case "evidence":
        state.evidence = f; state.pasted = false; $("evidence-text").value = ""; break;
      case "refs":
        state.refs = f; break;
      case "key":
        state.offered = state.offered.filter((k) => k.name !== f.name).concat([f]); break;
      case "cert":
        state.certs = state.certs.filter((c) => c.name !== f.name).concat([f]); break;
      case "firmware":
        state.firmware = f; break;
      default:
        unknown.push(f.name); continue;
    }
    placed.push(f.name + ": " + kindName[kind]);
  }
  let s = placed.join("; ");
  if (unknown.length > 0) {
    s += (s ? ". " : "") + "Not recognised (choose them with the inputs below): " + unknown.join(", ");
  }
  $("sorted").textContent = s;
}

const kindName = {
  evidence: "report or quote", refs: "reference values", key: "public key, not trusted unless you choose it (see 2.)",
  cert: "certificate or collateral", firmware: "firmware image",
};

function inputs() {
  return {
    evidence: state.evidence,
    refs: state.refs,
    keys: state.keys,
    threshold: Number($("threshold").value) || 1,
    // A role chosen empty is a file left out, not one to guess again.
    certs: state.certs.map((c) => ({ name: c.name, data: c.data, role: c.chosen && !c.role ? "-" : c.role })),
    trustRoots: state.roots,
    firmware: state.firmware,
    policy: {
      allowDebug: $("allow-debug").checked,
      minTCB: $("min-tcb").value.trim(),
      vmpl: $("vmpl").value.trim(),
      reportData: $("report-data").value.trim(),
    },
    verifyTime: $("verify-time").value.trim(),
    noHardwareCheck: $("no-hardware-check").checked,
  };
}

function showChosen() {
  const names = (fs) => fs.map((f) => f.name).join(", ");
  $("evidence-chosen").textContent = state.evidence ? "Using: " + (state.pasted ? "the pasted text" : state.evidence.name) : "";
  const refs = [];
  if (state.refs) refs.push("reference values " + state.refs.name);
  if (state.keys.length) refs.push("public key(s) " + names(state.keys));
  $("refs-chosen").textContent = refs.length ? "Using: " + refs.join("; ") : "";
  renderOffered();
  $("roots-chosen").textContent = state.roots.length ? "Trusting also: " + names(state.roots) : "";
  $("firmware-chosen").textContent = state.firmware ? "Using: " + state.firmware.name : "";
  renderCerts();
}

// renderOffered lists the public keys that came with other files, each
// with a button that makes it a publisher's key: only the person's click
// does.
function renderOffered() {
  const ul = $("offered-keys");
  ul.textContent = "";
  for (const k of state.offered) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.trustKey = k.name;
    b.textContent = "Trust " + k.name + " as the publisher's key";
    b.addEventListener("click", () => {
      state.offered = state.offered.filter((x) => x !== k);
      state.keys = state.keys.filter((x) => x.name !== k.name).concat([k]);
      run(performance.now());
    });
    li.append(k.name + " is a public key that came with your files; it is not trusted. ", b);
    ul.appendChild(li);
  }
}

function renderCerts() {
  const ul = $("cert-list");
  ul.textContent = "";
  state.certs.forEach((c, i) => {
    if (!c.role && ready) {
      c.role = measureRole(c.name, c.data);
    }
    const li = document.createElement("li");
    const id = "cert-role-" + i;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = c.name + " is the ";
    const sel = document.createElement("select");
    sel.id = id;
    for (const r of [""].concat(roles)) {
      const o = document.createElement("option");
      o.value = r;
      o.textContent = r || "(not used: role unknown)";
      o.selected = r === c.role;
      sel.appendChild(o);
    }
    sel.addEventListener("change", () => { c.role = sel.value; c.chosen = true; run(performance.now()); });
    const rm = document.createElement("button");
    rm.type = "button";
    rm.textContent = "Remove";
    rm.setAttribute("aria-label", "Remove " + c.name);
    rm.addEventListener("click", () => { state.certs.splice(i, 1); showChosen(); run(performance.now()); });
    li.append(label, sel, " ", rm);
    ul.appendChild(li);
  });
}

// run verifies what the page holds; since is when the person acted.
function run(since) {
  showChosen();
  if (!ready) {
    pending = since;
    return;
  }
  pending = null;
  if (!state.evidence) {
    setStatus("Give a report or a quote.");
    return;
  }
  const t0 = performance.now();
  const res = JSON.parse(measureVerify(inputs()));
  const t1 = performance.now();
  window.measurePage.result = res;
  window.measurePage.explain = null;
  render(res);
  const shown = performance.now();
  const timings = { verifyMs: t1 - t0, verdictMs: shown - since };
  window.measurePage.timings = timings;
  $("timing").textContent = "Checked in " + Math.round(timings.verifyMs) + " ms (" + Math.round(timings.verdictMs) + " ms after your last change).";
  window.measurePage.state = "verdict";
  document.body.dataset.state = "verdict";
  if (state.firmware && !res.error && res.evidence && res.evidence.platform === "sev-snp") {
    $("explain-section").hidden = false;
    $("explain").textContent = "Searching the firmware's launch configurations…";
    window.measurePage.state = "explaining";
    document.body.dataset.state = "explaining";
    // Let the verdict be painted before the search takes the thread.
    setTimeout(() => {
      const e0 = performance.now();
      const ex = JSON.parse(measureExplain(inputs()));
      timings.explainMs = performance.now() - e0;
      window.measurePage.explain = ex;
      renderExplain(ex, timings.explainMs);
      window.measurePage.state = "done";
      document.body.dataset.state = "done";
    }, 30);
  } else {
    $("explain-section").hidden = true;
    window.measurePage.state = "done";
    document.body.dataset.state = "done";
  }
}

function text(el, s) {
  el.textContent = s == null ? "" : String(s);
}

function row(tbody, cells) {
  const tr = document.createElement("tr");
  cells.forEach((c, i) => {
    const td = document.createElement(i === 0 ? "th" : "td");
    if (i === 0) td.scope = "row";
    if (c instanceof Node) td.appendChild(c); else text(td, c);
    tr.appendChild(td);
  });
  tbody.appendChild(tr);
  return tr;
}

// word is the answer at a glance: the verdict's result, in the library's
// words, or what stands in its place.
function word(res) {
  if (res.error) return "ERROR";
  if (res.verdict) return res.verdict.result;
  return "NO VERDICT";
}

function render(res) {
  $("result").hidden = false;
  const w = word(res);
  const glance = $("verdict");
  glance.className = "verdict " + w.toLowerCase().replace(" ", "-");
  text($("verdict-word"), w);
  let headline = "";
  if (res.error) {
    headline = res.error.message;
  } else if (res.verdict) {
    headline = res.verdict_text.split("\n")[0];
  } else {
    headline = "no reference values were given, so nothing says which firmware the measurement should be. The evidence, its hardware signature and the policy are shown below.";
  }
  text($("verdict-headline"), headline);
  setStatus(w + ": " + headline);

  const tbody = $("checks").querySelector("tbody");
  tbody.textContent = "";
  const checks = res.verdict ? res.verdict.checks || [] : [];
  for (const c of checks) {
    const st = document.createElement("span");
    st.className = "status " + c.status;
    st.textContent = c.status.toUpperCase();
    row(tbody, [c.name, st, c.detail]).dataset.check = c.name;
  }
  $("checks").hidden = checks.length === 0;

  text($("verdict-text"), res.verdict_text || "");
  $("verdict-text").parentElement.hidden = !res.verdict_text;

  renderHardware(res);

  const ev = res.evidence;
  const fields = $("fields").querySelector("tbody");
  fields.textContent = "";
  if (ev) {
    text($("evidence-form"), ev.form + ": " + ev.name + ", sha256 " + ev.sha256);
    for (const f of ev.fields || []) row(fields, [f.name, f.value]);
  } else {
    text($("evidence-form"), "");
  }
  text($("command"), res.command || "");
  $("certs-note").hidden = !(res.command || "").includes(" --certs ");
  text($("json"), res.verdict ? JSON.stringify(res.verdict, null, 2) : JSON.stringify(res, null, 2));
}

function renderHardware(res) {
  const dl = $("hardware");
  dl.textContent = "";
  const add = (k, v) => {
    if (v == null || v === "" || (Array.isArray(v) && v.length === 0)) return;
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    if (Array.isArray(v)) {
      const ul = document.createElement("ul");
      for (const x of v) {
        const li = document.createElement("li");
        li.textContent = x;
        ul.appendChild(li);
      }
      dd.appendChild(ul);
    } else {
      dd.textContent = v;
    }
    dl.append(dt, dd);
  };
  const hw = res.verdict ? res.verdict.hardware_signature : res.hardware;
  if (!hw) return;
  let outcome;
  if (!hw.checked) outcome = "NOT CHECKED: no certificates, and the evidence carries none";
  else if (!hw.verified) outcome = "FAILED";
  else if (hw.trusted_root) outcome = "VERIFIED to a trusted root";
  else outcome = "VERIFIED, but to a root nobody named as trusted";
  add("Outcome", outcome);
  add("Why it failed", res.hardware_error);
  if (res.verdict) add("Failures", res.verdict.failures);
  add("Signed by", hw.signer ? hw.signer + (hw.product_line ? " (" + hw.product_line + ")" : "") : "");
  add("Root", hw.root ? hw.root + (hw.vendor_root ? " (the vendor's, built in)" : " (NOT the vendor's)") : "");
  if (hw.certified_tcb) add("Certified TCB", JSON.stringify(hw.certified_tcb));
  add("TCB status", hw.tcb_status ? [hw.tcb_status].concat(hw.tcb_advisories || []).join(" ") : "");
  add("Revocation checked", hw.crls);
  add("Certificates from", hw.sources);
  add("Not checked", hw.limits);
  add("Certificate files", (res.certs || []).map((c) => c.name + (c.role ? " as " + c.as : ": not used, role unknown")));
  if (!res.verdict && res.policy) {
    add("Policy", res.policy.map((p) => (p.ok ? "ok: " : "FAILS: ") + p.name + " = " + p.got + " (want " + p.want + ")"));
  }
}

function renderExplain(ex, ms) {
  const div = $("explain");
  div.textContent = "";
  const p = (s, cls) => {
    const el = document.createElement("p");
    el.textContent = s;
    if (cls) el.className = cls;
    div.appendChild(el);
    return el;
  };
  if (ex.error) {
    p("ERROR: " + ex.error.message, "explain-word");
    return;
  }
  const e = ex.explanation;
  p((e.result === "explained" ? "EXPLAINED" : "UNEXPLAINED") + ": searched " + e.searched + " configurations of " + e.firmware + " in " + Math.round(ms) + " ms.", "explain-word");
  for (const f of e.found || []) {
    p("explained: " + f.flags);
    p("profile: " + f.profile + (f.default_profile ? " (" + f.vmm_type + "'s default)" : ""));
    if ((f.vcpu_types || []).length > 1) p("vCPU types with signature " + f.vcpu_sig + ": " + f.vcpu_types.join(", "));
    const pre = document.createElement("pre");
    pre.textContent = f.command;
    div.appendChild(pre);
  }
  if (ex.message) p(ex.message);
  for (const s of e.skipped || []) p("skipped: " + s);
  p("The search does not check the hardware signature; the verdict above does.", "note");
}

// Inputs.

function on(id, ev, f) {
  $(id).addEventListener(ev, f);
}

// changed runs f for an input's event, then verifies. The files of one
// event are read before those of the next, so that a verdict always
// covers every file given before it.
let queue = Promise.resolve();
function changed(f) {
  return (ev) => {
    const since = performance.now();
    queue = queue.then(() => f(ev)).then(() => run(since)).catch((e) => setStatus("Could not read the file: " + e.message));
  };
}

on("any-files", "change", changed(async (ev) => { await sort(ev.target.files); }));
on("evidence-file", "change", changed(async (ev) => {
  const [f] = await filesOf(ev.target.files);
  state.evidence = f || null;
  state.pasted = false;
  $("evidence-text").value = "";
}));
on("evidence-text", "input", changed(async () => {
  const t = $("evidence-text").value;
  if (t.trim() === "") {
    if (state.pasted) state.evidence = null;
    return;
  }
  state.evidence = { name: "pasted", data: new TextEncoder().encode(t), role: "" };
  state.pasted = true;
}));
on("refs-file", "change", changed(async (ev) => { [state.refs] = await filesOf(ev.target.files); }));
on("key-files", "change", changed(async (ev) => {
  state.keys = await filesOf(ev.target.files);
  state.offered = state.offered.filter((o) => !state.keys.some((k) => k.name === o.name));
}));
on("cert-files", "change", changed(async (ev) => { state.certs = await filesOf(ev.target.files); }));
on("root-files", "change", changed(async (ev) => { state.roots = await filesOf(ev.target.files); }));
on("firmware-file", "change", changed(async (ev) => { [state.firmware] = await filesOf(ev.target.files); }));
for (const id of ["threshold", "allow-debug", "no-hardware-check", "min-tcb", "vmpl", "report-data", "verify-time"]) {
  on(id, "change", () => run(performance.now()));
}
on("inputs", "submit", (ev) => {
  ev.preventDefault();
  run(performance.now());
  if (!$("result").hidden) $("result-h").focus();
});
on("clear", "click", () => {
  $("inputs").reset();
  Object.assign(state, { evidence: null, pasted: false, refs: null, keys: [], offered: [], certs: [], roots: [], firmware: null });
  $("sorted").textContent = "";
  $("result").hidden = true;
  showChosen();
  setStatus("Cleared. Nothing you gave this page left it.");
});

// Drop anywhere.
document.addEventListener("dragover", (ev) => {
  ev.preventDefault();
  document.body.classList.add("dragging");
});
document.addEventListener("dragleave", (ev) => {
  if (ev.target === document.documentElement || ev.target === document.body) document.body.classList.remove("dragging");
});
document.addEventListener("drop", (ev) => {
  ev.preventDefault();
  document.body.classList.remove("dragging");
  const files = ev.dataTransfer.files;
  const t = ev.dataTransfer.getData("text/plain");
  changed(async () => {
    if (files.length > 0) {
      await sort(files);
    } else if (t) {
      $("evidence-text").value = t;
      state.evidence = { name: "pasted", data: new TextEncoder().encode(t), role: "" };
      state.pasted = true;
    }
  })(ev);
});
