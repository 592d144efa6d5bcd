// ratls evidence explorer: sends the input to this server (same origin)
// and renders the analysis. Every value is put in the page as text, never
// as markup.
"use strict";

const $ = (id) => document.getElementById(id);
let pending = null; // {name, bytes}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function readFile(f) {
  const r = new FileReader();
  r.onload = () => {
    pending = { name: f.name, bytes: new Uint8Array(r.result) };
    $("paste").value = "";
    $("paste").placeholder = f.name + " (" + pending.bytes.length + " bytes) ready: press Analyze";
    analyze();
  };
  r.readAsArrayBuffer(f);
}

async function analyze() {
  let name, bytes;
  if ($("paste").value.trim() !== "") {
    name = "pasted text";
    bytes = new TextEncoder().encode($("paste").value);
  } else if (pending) {
    name = pending.name;
    bytes = pending.bytes;
  } else {
    return;
  }
  $("busy").hidden = false;
  try {
    const headers = { "Content-Type": "application/json" };
    if ($("token").value !== "") headers["Authorization"] = "Bearer " + $("token").value;
    const resp = await fetch("/explore/analyze", {
      method: "POST",
      headers: headers,
      body: JSON.stringify({ name: name, data: toBase64(bytes) }),
    });
    let a;
    try {
      a = await resp.json();
    } catch (e) {
      a = { error: "the server answered " + resp.status + " " + resp.statusText };
    }
    if (resp.status === 401 || resp.status === 403) {
      a = { name: name, error: "the service requires an API token with the read role: enter it above (" + (a.detail || a.title || resp.status) + ")" };
    }
    render(a);
  } catch (e) {
    render({ error: "could not reach the server: " + e });
  } finally {
    $("busy").hidden = true;
  }
}

function fact(dl, name, value) {
  if (value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0)) return;
  dl.appendChild(el("dt", null, name));
  dl.appendChild(el("dd", null, Array.isArray(value) ? value.join(", ") : value));
}

function row(tbody, cells, cls) {
  const tr = el("tr");
  cells.forEach((c, i) => {
    const td = el("td", i === 0 ? "" : null);
    if (i === 0) td.appendChild(el("span", "badge " + cls, c));
    else td.textContent = c === undefined || c === null ? "" : String(c);
    tr.appendChild(td);
  });
  tbody.appendChild(tr);
}

function renderReasons(tbody, reasons) {
  tbody.textContent = "";
  (reasons || []).forEach((r) => row(tbody, [r.status, r.check, r.message, r.expected, r.actual], r.status));
}

function renderTree(parent, nodes) {
  (nodes || []).forEach((n) => {
    if (n.children && n.children.length) {
      const d = el("details");
      d.open = parent.id === "tree";
      const s = el("summary");
      s.appendChild(el("span", "name", n.name));
      if (n.explain) s.appendChild(el("span", "explain", n.explain));
      d.appendChild(s);
      renderTree(d, n.children);
      parent.appendChild(d);
      return;
    }
    const f = el("div", "field");
    f.appendChild(el("span", "name", n.name + ": "));
    f.appendChild(el("span", "value", n.value));
    if (n.explain) f.appendChild(el("span", "explain", n.explain));
    parent.appendChild(f);
  });
}

function render(a) {
  $("result").hidden = false;
  $("what").textContent = a.name ? "— " + a.name + (a.kind ? " (" + a.kind + ", " + a.size + " bytes)" : "") : "";
  $("error").hidden = !a.error;
  $("error").textContent = a.error || "";

  const v = a.verification;
  $("verdict").hidden = !v;
  if (v) {
    const st = $("status");
    st.textContent = v.status || "error";
    st.className = "badge " + (v.status || "contraindicated");
    $("policy").textContent = v.policy_id ? "policy " + v.policy_id : "";
    const dl = $("facts");
    dl.textContent = "";
    fact(dl, "TEE", v.tee);
    fact(dl, "TCB status", v.tcb_status);
    fact(dl, "TCB level of", v.tcb_date);
    fact(dl, "advisories", v.advisory_ids);
    fact(dl, "trust anchor", v.trust_anchor);
    fact(dl, "key binding", v.key_binding);
    fact(dl, "error", v.error);
    renderReasons($("reasons").querySelector("tbody"), v.reasons);
    const tb = $("checks").querySelector("tbody");
    tb.textContent = "";
    (v.checks || []).forEach((c) => row(tb, [c.state.replace("_", " "), c.name, c.category, c.detail], c.state));
  }

  const e = a.ear;
  $("ear").hidden = !e;
  if (e) {
    const s = $("earsig");
    s.textContent = e.signature;
    s.className = "badge " + e.signature.replace(" ", "-");
    $("eardetail").textContent = e.detail;
    const dl = $("earfacts");
    dl.textContent = "";
    fact(dl, "issued at", e.issued_at);
    fact(dl, "verifier", e.verifier);
    fact(dl, "key", e.key_id);
    fact(dl, "nonce", e.nonce);
    const sub = $("submods");
    sub.textContent = "";
    Object.keys(e.submods || {}).forEach((tee) => {
      const ap = e.submods[tee];
      const h = el("h3", null, tee + ": ");
      h.appendChild(el("span", "badge " + ap.status, ap.status));
      h.appendChild(el("span", null, ap.policy_id ? " policy " + ap.policy_id : ""));
      sub.appendChild(h);
      const tv = el("table", "trustvector");
      const thead = el("thead");
      const hr = el("tr");
      ["trust claim", "value", "meaning"].forEach((t) => hr.appendChild(el("th", null, t)));
      thead.appendChild(hr);
      tv.appendChild(thead);
      const tbody = el("tbody");
      (ap.trust_vector || []).forEach((c) => {
        const tr = el("tr");
        tr.appendChild(el("td", null, c.claim));
        tr.appendChild(el("td", null, c.value));
        const m = el("td");
        m.appendChild(el("span", "badge " + c.meaning.replace(" ", "-"), c.meaning));
        tr.appendChild(m);
        tbody.appendChild(tr);
      });
      tv.appendChild(tbody);
      sub.appendChild(tv);
      if (ap.reasons && ap.reasons.length) {
        const rt = el("table");
        const rh = el("thead");
        const rr = el("tr");
        ["status", "check", "message", "expected", "actual"].forEach((t) => rr.appendChild(el("th", null, t)));
        rh.appendChild(rr);
        rt.appendChild(rh);
        const rb = el("tbody");
        renderReasons(rb, ap.reasons);
        rt.appendChild(rb);
        sub.appendChild(rt);
      }
    });
  }

  const tree = $("tree");
  tree.textContent = "";
  $("treetitle").hidden = !(a.tree && a.tree.length);
  renderTree(tree, a.tree);
}

$("analyze").addEventListener("click", analyze);
$("file").addEventListener("change", (ev) => { if (ev.target.files[0]) readFile(ev.target.files[0]); });
const drop = $("drop");
["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (ev) => { ev.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (ev) => { ev.preventDefault(); drop.classList.remove("over"); }));
drop.addEventListener("drop", (ev) => { if (ev.dataTransfer.files[0]) readFile(ev.dataTransfer.files[0]); });
document.body.addEventListener("dragover", (ev) => ev.preventDefault());
document.body.addEventListener("drop", (ev) => {
  ev.preventDefault();
  if (ev.dataTransfer.files[0]) readFile(ev.dataTransfer.files[0]);
});
