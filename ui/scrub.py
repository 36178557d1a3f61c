"""Browser-side x_t: the page composes x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε itself while t is scrubbed.

The server sends x_0 and ε once per image and seed (as PNGs) with the ᾱ table; every slider
`input` event then redraws a canvas with no request to the server. ε is quantised to steps of
1/32 on [−4, 4), so the canvas agrees with the server's exact x_t to within 2/255 per pixel
(clipped only where |ε| > 4, probability 6e-5).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import torch
from PIL import Image

from ui.i18n import _

EPS_SCALE = 32.0  # ε ↦ round(32ε + 128) as uint8
# The canvases' caption and accessible names, translated on the server and sent with each payload; the page
# fills the caption's {t}, {schedule} and {ms} itself on every redraw.
CAPTION = "x_{t} ({schedule}, composed in your browser, {ms} ms)"
ARIA_LABELS = ("x_t composed in the browser", "x_t under the comparison schedule")

# Two canvases: x_t under the chosen schedule and under the comparison schedule (hidden if none).
# `window.ddpmScrub(t)` redraws both; it is bound to the t slider's input and change events.
HTML_TEMPLATE = """<div class="scrub-pair">
  <figure class="scrub-a"><canvas width="1" height="1" aria-label="x_t composed in the browser"></canvas>
    <figcaption></figcaption></figure>
  <figure class="scrub-b"><canvas width="1" height="1" aria-label="x_t under the comparison schedule"></canvas>
    <figcaption></figcaption></figure>
</div>"""

CSS_TEMPLATE = """
.scrub-pair { display: flex; gap: 12px; justify-content: center; }
.scrub-pair figure { flex: 1 1 0; max-width: 420px; margin: 0; display: flex; flex-direction: column; align-items: center; }
.scrub-pair canvas { width: 100%; aspect-ratio: 1; image-rendering: pixelated; border-radius: 6px; background: #888; }
.scrub-pair figcaption { font-size: var(--text-md); margin-top: 4px; text-align: center; }
"""

JS_ON_LOAD = """
const panels = ['.scrub-a', '.scrub-b'].map((sel) => {
  const figure = element.querySelector(sel);
  const canvas = figure.querySelector('canvas');
  return {figure, canvas, caption: figure.querySelector('figcaption'), ctx: canvas.getContext('2d'), out: null};
});
let x0 = null, eps = null, tables = [], labels = [], drawn = null;
let caption = 'x_{t} ({schedule}, composed in your browser, {ms} ms)';
const fill = (text, values) => text.replace(/\\{(\\w+)\\}/g, (m, k) => (k in values ? String(values[k]) : m));
const lutA = new Float32Array(256), lutB = new Float32Array(256);

async function pixels(url) {
  const img = new Image();
  img.src = url;
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const cx = c.getContext('2d');
  cx.drawImage(img, 0, 0);
  return cx.getImageData(0, 0, c.width, c.height).data;
}

function draw(panel, abar) {
  const a = Math.sqrt(abar), b = Math.sqrt(1 - abar);
  // pixel = 127.5·(a·x + b·e + 1) with x = v/127.5 − 1 and e = (u − 128)/32, split into two tables.
  for (let v = 0; v < 256; v++) {
    lutA[v] = a * (v - 127.5) + 127.5;
    lutB[v] = b * (v - 128) / 32 * 127.5;
  }
  const d = panel.out.data;
  for (let i = 0; i < d.length; i += 4) {
    d[i] = lutA[x0[i]] + lutB[eps[i]];
    d[i + 1] = lutA[x0[i + 1]] + lutB[eps[i + 1]];
    d[i + 2] = lutA[x0[i + 2]] + lutB[eps[i + 2]];
    d[i + 3] = 255;
  }
  panel.ctx.putImageData(panel.out, 0, 0);
}

function render(t) {
  if (!x0) return;
  t = Math.max(0, Math.min(tables[0].length - 1, Math.round(Number(t))));
  if (t === drawn) return;  // the slider's input and change events both arrive for one move
  drawn = t;
  const start = performance.now();
  tables.forEach((table, k) => draw(panels[k], table[t]));
  const ms = performance.now() - start;
  panels[0].caption.textContent = fill(caption, {t: t, schedule: labels[0], ms: ms.toFixed(1)});
  if (tables[1]) panels[1].caption.textContent = 'x_' + t + ' (' + labels[1] + ')';
  element.dataset.t = String(t);
  element.dataset.renders = String(Number(element.dataset.renders || 0) + 1);
  element.dataset.renderMs = ms.toFixed(3);
}

async function load() {
  const v = props.value;
  drawn = null;
  if (!v || !v.x0) {
    x0 = null;
    panels.forEach((p) => { p.ctx.clearRect(0, 0, p.canvas.width, p.canvas.height); p.caption.textContent = ''; });
    return;
  }
  const [px, pe] = await Promise.all([pixels(v.x0), pixels(v.eps)]);
  tables = v.tables; labels = v.labels;
  if (v.text) caption = v.text.caption;
  panels.forEach((p, k) => {
    if (v.text) p.canvas.setAttribute('aria-label', v.text.aria[k]);
    p.figure.style.display = k < tables.length ? '' : 'none';
    p.canvas.width = v.size; p.canvas.height = v.size;
    p.out = p.ctx.createImageData(v.size, v.size);
  });
  x0 = px; eps = pe;
  element.dataset.loaded = String(v.size);
  render(window.ddpmT ?? v.t);
}

window.ddpmScrub = (t) => { window.ddpmT = Number(t); render(t); };
if (!window.ddpmPointerHooked) {  // is the pointer holding the t slider? (SLIDER_JS throttles the views then)
  window.ddpmPointerHooked = true;
  document.addEventListener('pointerdown', (e) => {
    if (e.target.closest && e.target.closest('#fwd-t')) window.ddpmPointerDown = true;
  }, true);
  document.addEventListener('pointerup', () => { window.ddpmPointerDown = false; }, true);
}
watch('value', load);
load();
"""

# The t slider drives two hidden numbers the server listens to, from two page-side handlers:
# - IMAGE_JS (on input and change): in browser mode redraw the canvases and ask the server for
#   nothing; in server mode pass every t on as t_server, for which the server sends x_t.
# - VIEWS_JS (on input, change and release; async): the t the views (plots, histogram, equation)
#   follow. In browser mode it moves at most every SETTLE_MS while the pointer drags, so re-rendering
#   plots never stalls the canvases. In server mode it waits until the new x_t image has been
#   decoded (at most WAIT_IMAGE_MS), so the plots never hold the image back. Keyboard moves,
#   server-set values and the pointer's release pass straight through.
SETTLE_MS = 400
WAIT_IMAGE_MS = 600
_BROWSER_MODE = "(document.querySelector('#fwd-browser input[type=checkbox]')?.checked ?? true)"
IMAGE_JS = """(t) => {
  if (!%s) { window.ddpmServerT = t; return t; }
  if (window.ddpmServerT === undefined) { window.ddpmServerT = t; }
  if (window.ddpmScrub) { window.ddpmScrub(t); }
  return window.ddpmServerT;
}""" % _BROWSER_MODE
VIEWS_JS = """async (t, released) => {
  if (released === true) { window.ddpmPointerDown = false; }
  if (%s) {
    const now = performance.now();
    if (released === true || !window.ddpmPointerDown || now - (window.ddpmSentAt || 0) > %d) {
      window.ddpmSettled = t; window.ddpmSentAt = now;
    }
    return window.ddpmSettled ?? t;
  }
  const img = () => document.querySelector('#fwd-xt img');
  const before = img()?.src, start = performance.now();
  while (performance.now() - start < %d) {
    const now = img();
    if (now && now.src !== before && now.complete) break;
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  return t;
}""" % (_BROWSER_MODE, SETTLE_MS, WAIT_IMAGE_MS)


def _png_data_url(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _rgb(pixels: np.ndarray) -> np.ndarray:
    """(H, W) grey or (H, W, C) uint8 → (H, W, 3): grey is sent as three equal channels."""
    pixels = pixels.reshape(*pixels.shape[:2], -1)
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels


def quantise_eps(eps: torch.Tensor) -> np.ndarray:
    """ε (C, H, W) → uint8 (H, W, C) as round(32ε + 128), clipped to 0..255."""
    q = (eps * EPS_SCALE + 128).round().clamp(0, 255).to(torch.uint8)
    return q.permute(1, 2, 0).cpu().numpy()


def scrub_payload(x0_uint8: np.ndarray, eps: torch.Tensor, t: int, curves) -> dict:
    """The scrub component's value: x_0 and ε as PNGs, and ᾱ_0..ᾱ_T (ᾱ_0 = 1) for each named schedule."""
    tables = [[1.0] + [round(float(a), 12) for a in diffusion.alphas_cumprod.tolist()]
              for _name, diffusion in curves]
    return {"x0": _png_data_url(_rgb(x0_uint8)), "eps": _png_data_url(_rgb(quantise_eps(eps))),
            "tables": tables, "labels": [name for name, _diffusion in curves], "size": int(x0_uint8.shape[0]),
            "t": int(t), "text": {"caption": _(CAPTION), "aria": [_(label) for label in ARIA_LABELS]}}
