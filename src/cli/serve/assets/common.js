// Shared by the pages: JSON calls to the server's API.
"use strict";

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) {
    const error = new Error(data.error || response.statusText);
    error.details = data;
    throw error;
  }
  return data;
}

function el(tag, attributes = {}, text) {
  const node = document.createElementNS(
    attributes.svg ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml", tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (k !== "svg") node.setAttribute(k, v);
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

function short(x) {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) >= 1e9 || Math.abs(x) < 1e-4)) return x.toExponential(3);
  return String(Number(x.toFixed(4)));
}
