"""The page ``GET /`` serves: pick or drop an image (or type a text), see the classes as bars.

The page is static: it reads the model's task and classes from ``/info`` and builds every
element from answers with ``textContent``, so no class name or file name is ever parsed as
HTML.
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>headstart serve</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 760px; margin: 2em auto; color: #222; }
  #drop { border: 2px dashed #888; border-radius: 8px; padding: 2em; text-align: center;
          cursor: pointer; }
  #drop.over { background: #eef4ff; border-color: #3b6fd8; }
  textarea { width: 100%; min-height: 6em; font: inherit; }
  .result { display: flex; gap: 1em; margin: 1em 0; align-items: flex-start; }
  .result img { max-width: 160px; max-height: 160px; border: 1px solid #ccc; }
  .bars { flex: 1; }
  .row { display: flex; align-items: center; gap: .5em; margin: .2em 0; }
  .label { width: 11em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .track { flex: 1; background: #eee; height: 1.1em; border-radius: 3px; }
  .bar { background: #3b6fd8; height: 100%; border-radius: 3px; }
  .prob { width: 4em; text-align: right; font-variant-numeric: tabular-nums; }
  .error { color: #b00020; }
  .muted { color: #666; font-size: .9em; }
</style>
</head>
<body>
<h1>headstart serve</h1>
<p id="model" class="muted">loading the model's description...</p>
<div id="image-input" hidden>
  <div id="drop">Drop an image here, or click to pick one
    <input id="file" type="file" accept="image/*" multiple hidden>
  </div>
</div>
<div id="text-input" hidden>
  <textarea id="text" placeholder="Type a text to classify"></textarea>
  <button id="send">Classify</button>
</div>
<p id="status" class="muted"></p>
<div id="results"></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function bars(prediction) {
  const box = el("div", "bars");
  box.appendChild(el("div", "muted", prediction.input));
  for (const t of prediction.top) {
    const row = el("div", "row");
    row.appendChild(el("span", "label", t["class"]));
    const track = el("div", "track");
    const bar = el("div", "bar");
    bar.style.width = (100 * t.prob).toFixed(1) + "%";
    track.appendChild(bar);
    row.appendChild(track);
    row.appendChild(el("span", "prob", (100 * t.prob).toFixed(1) + "%"));
    box.appendChild(row);
  }
  return box;
}
async function send(body, headers, previews) {
  $("status").textContent = "classifying...";
  $("status").className = "muted";
  try {
    const res = await fetch("predict", { method: "POST", body: body, headers: headers });
    const answer = await res.json();
    if (!res.ok) throw new Error(answer.error || res.statusText);
    $("results").replaceChildren();
    answer.predictions.forEach((p, i) => {
      const item = el("div", "result");
      if (previews[i]) { const img = el("img"); img.src = previews[i]; img.alt = ""; item.appendChild(img); }
      item.appendChild(bars(p));
      $("results").appendChild(item);
    });
    $("status").textContent = "";
  } catch (err) {
    $("status").textContent = "error: " + err.message;
    $("status").className = "error";
  }
}
function sendFiles(files) {
  if (!files.length) return;
  const form = new FormData();
  const previews = [];
  for (const f of files) { form.append("file", f, f.name); previews.push(URL.createObjectURL(f)); }
  send(form, {}, previews);
}
async function start() {
  const info = await (await fetch("info")).json();
  $("model").textContent = info.task + ", " + info.classes.length + " classes, " + info.engine;
  if (info.task === "image-classification") {
    $("image-input").hidden = false;
    const drop = $("drop");
    drop.addEventListener("click", () => $("file").click());
    $("file").addEventListener("change", () => sendFiles([...$("file").files]));
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault(); drop.classList.remove("over"); sendFiles([...e.dataTransfer.files]);
    });
  } else {
    $("text-input").hidden = false;
    $("send").addEventListener("click", () => {
      const text = $("text").value.trim();
      if (text) send(JSON.stringify({ texts: [text] }), { "Content-Type": "application/json" }, []);
    });
  }
}
start().catch((err) => { $("model").textContent = "error: " + err.message; });
</script>
</body>
</html>
"""
