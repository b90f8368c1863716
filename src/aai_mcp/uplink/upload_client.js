// One upload, as the upload page and the upload widget (an MCP Apps view in the chat) both show it:
// the file checked before anything is sent, a PUT with a real progress bar, speed and time left, the
// done state and the gateway's own error messages. Both documents carry the same elements (#upload,
// #drop, #file, #progress, #bar, #sent, #speed, #eta, #done, #error, #message) and call startUploads.

// The link's state and the sentence for it ({} when the gateway cannot be asked).
function linkState(url, then) {
  var xhr = new XMLHttpRequest();
  xhr.onload = function () { var answer = {}; try { answer = JSON.parse(xhr.responseText); } catch (ignored) { answer = {}; } then(answer); };
  xhr.onerror = function () { then({}); };
  xhr.open("GET", url);
  xhr.setRequestHeader("Accept", "application/json");
  xhr.send();
}

function startUploads(options) {
  "use strict";
  var body = document.body, url = options.url, maxBytes = Number(options.maxBytes);
  var input = document.getElementById("file"), drop = document.getElementById("drop");
  var $ = function (id) { return document.getElementById(id); };
  var changed = options.changed || function () {};

  function mb(bytes) { return (bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0) + " MB"; }
  function duration(seconds) {
    if (!isFinite(seconds)) { return ""; }
    seconds = Math.max(0, Math.round(seconds));
    return seconds < 60 ? seconds + " s left" : Math.floor(seconds / 60) + " min " + (seconds % 60) + " s left";
  }
  function setState(state) { body.dataset.state = state; changed(state); }
  function show(id) { ["upload", "progress", "done", "error", "message"].forEach(function (other) { $(other).hidden = other !== id && !(id === "done" && other === "progress"); }); }
  function fail(text, again) {
    $("error-text").textContent = text;
    show("error");
    if (again) { $("upload").hidden = false; }
    setState("error");
  }
  // The first bytes, as the server checks them too: a wrong file is caught before anything is sent.
  function isMedia(b) {
    var s = function (i, text) { for (var k = 0; k < text.length; k++) { if (b[i + k] !== text.charCodeAt(k)) { return false; } } return true; };
    return (s(0, "RIFF") && (s(8, "WAVE") || s(8, "AVI "))) || (s(0, "FORM") && (s(8, "AIFF") || s(8, "AIFC")))
      || s(4, "ftyp") || (b[0] === 0xff && (b[1] & 0xe0) === 0xe0) || s(0, "ID3") || s(0, "fLaC") || s(0, "OggS")
      || (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) || s(0, "#!AMR")
      || (b[0] === 0x30 && b[1] === 0x26 && b[2] === 0xb2 && b[3] === 0x75) || (b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0xba);
  }
  function finished() {
    $("bar").value = 100;
    $("eta").textContent = "";
    show("done");
    document.querySelector("h1").textContent = "Upload complete";
    $("expiry").hidden = true;
    setState("done");
  }
  function send(file) {
    var started = performance.now(), xhr = new XMLHttpRequest();
    $("file-name").textContent = file.name + " (" + mb(file.size) + ")";
    show("progress");
    setState("uploading");
    xhr.upload.onprogress = function (event) {
      var total = event.lengthComputable ? event.total : file.size, seconds = (performance.now() - started) / 1000;
      var speed = seconds > 0 ? event.loaded / seconds : 0;
      $("bar").value = total ? Math.floor(event.loaded / total * 1000) / 10 : 0;
      $("sent").textContent = mb(event.loaded) + " of " + mb(total);
      $("speed").textContent = speed ? mb(speed) + "/s" : "";
      $("eta").textContent = speed ? duration((total - event.loaded) / speed) : "";
    };
    xhr.onload = function () {
      var answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (ignored) { answer = {}; }
      if (xhr.status === 200) { finished(); return; }
      var error = answer.error || {};
      fail(error.message || ("The upload failed (HTTP " + xhr.status + ")."), error.code === "not_media" || error.code === "empty");
    };
    // A refused upload (used, expired) is cut off before its answer arrives: the link says why.
    xhr.onerror = function () {
      linkState(url, function (answer) {
        var known = answer.message && answer.state !== "receiving";
        fail(known ? answer.message : "The connection broke off before the file arrived. Ask for a new link in your chat.", false);
      });
    };
    xhr.open("PUT", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.send(file);
  }
  function pick(file) {
    if (!file) { return; }
    if (file.size === 0) { fail("That file is empty. Pick another one.", true); return; }
    if (file.size > maxBytes) { fail("That file is " + mb(file.size) + "; this link takes at most " + mb(maxBytes) + ".", true); return; }
    file.slice(0, 64).arrayBuffer().then(function (head) {
      if (!isMedia(new Uint8Array(head))) { fail("That file is not audio or video. Pick a recording (mp3, wav, m4a, mp4…).", true); return; }
      send(file);
    });
  }
  input.addEventListener("change", function () { pick(input.files[0]); });
  ["dragenter", "dragover"].forEach(function (name) {
    drop.addEventListener(name, function (event) { event.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    drop.addEventListener(name, function () { drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (event) { event.preventDefault(); pick(event.dataTransfer.files[0]); });
}
