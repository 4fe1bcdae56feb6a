// battlab's upload button: the size limit is checked in the browser, before a byte is
// sent, and accepted files travel to the kernel in acknowledged chunks (progress shown,
// no single giant websocket message). The kernel re-checks everything it receives.

function formatBytes(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + " GB";
  if (n >= 1e6) return (n / 1e6).toFixed(1) + " MB";
  if (n >= 1e3) return (n / 1e3).toFixed(0) + " kB";
  return n + " bytes";
}

function render({ model, el }) {
  el.classList.add("battlab-upload-host");
  const button = document.createElement("button");
  button.className = "jupyter-widgets jupyter-button widget-upload battlab-upload";
  const input = document.createElement("input");
  input.type = "file";
  input.style.display = "none";
  const note = document.createElement("span");
  note.className = "battlab-upload-note";
  note.setAttribute("role", "status");
  el.append(button, input, note);

  let busy = false;
  let pending = null; // {resolve, reject} of the chunk awaiting the kernel's acknowledgement

  function label() {
    const icon = '<i class="fa fa-upload"></i> ';
    button.innerHTML = icon + String(model.get("description") || "Upload");
    input.accept = model.get("accept") || "";
    input.multiple = Boolean(model.get("multiple"));
    button.disabled = Boolean(model.get("disabled")) || busy;
  }
  function say(text, kind) {
    note.textContent = text;
    note.dataset.kind = kind || "";
  }

  model.on("change:description", label);
  model.on("change:accept", label);
  model.on("change:multiple", label);
  model.on("change:disabled", label);
  model.on("msg:custom", (msg) => {
    if (!msg || !pending) return;
    const waiting = pending;
    pending = null;
    if (msg.event === "ack") waiting.resolve(msg);
    else waiting.reject(new Error(msg.message || "the upload was refused"));
  });
  label();

  function ask(content, buffers) {
    return new Promise((resolve, reject) => {
      pending = { resolve, reject };
      model.send(content, undefined, buffers || []);
    });
  }

  async function sendFile(file, index, count) {
    const chunk = Math.max(65536, Number(model.get("chunk_bytes")) || 1048576);
    await ask({ event: "begin", index: index, name: file.name, size: file.size, type: file.type,
                last_modified: file.lastModified });
    for (let offset = 0; offset < file.size; offset += chunk) {
      const part = await file.slice(offset, Math.min(file.size, offset + chunk)).arrayBuffer();
      await ask({ event: "chunk", index: index, offset: offset }, [part]);
      const done = Math.min(file.size, offset + chunk);
      const which = count > 1 ? ` (${index + 1} of ${count})` : "";
      say(`Sending ${file.name}${which}: ${Math.floor((100 * done) / Math.max(file.size, 1))} %`, "progress");
    }
    await ask({ event: "end", index: index });
  }

  button.addEventListener("click", () => {
    if (busy) return;
    input.value = "";
    input.click();
  });
  input.addEventListener("change", async () => {
    const files = Array.from(input.files || []);
    if (!files.length) return;
    const limit = Number(model.get("max_bytes"));
    const big = files.find((f) => f.size > limit);
    // (the kernel's banner adds what to do with a large file)
    if (big) {
      // Refused here: the file is never read, so nothing is sent and the page stays responsive.
      say(`${big.name} not sent: ${formatBytes(big.size)} is above the ${formatBytes(limit)} limit.`, "refused");
      model.send({ event: "refused", name: big.name, size: big.size });
      return;
    }
    busy = true;
    label();
    try {
      for (let i = 0; i < files.length; i++) await sendFile(files[i], i, files.length);
      await ask({ event: "finish", count: files.length });
      say(files.length > 1 ? `${files.length} files sent` : `${files[0].name} sent`, "done");
    } catch (err) {
      say(String((err && err.message) || err), "refused");
    } finally {
      pending = null;
      busy = false;
      label();
    }
  });
}

export default { render };
