"""Projector mode: large type, high contrast and bigger plot text, for a lecture hall's 1280×720 projector.

It lives entirely in the page: the 📽 button or `?projector=1` (`?projector=0` to leave) puts the class
`projector` on <html>, which the CSS below keys on, and re-lays out every Plotly figure with larger fonts
and thicker lines (`JS`, run once on page load). The choice is remembered by the browser. The plots'
colours are the Okabe–Ito palette (ui/plots.py) in both modes, safe for every common colour-vision
deficiency. Nothing is sent to the server, so switching keeps everything on the page.
"""

from __future__ import annotations

PLOT_FONT_PX = 20  # plot text in projector mode (14 otherwise)

CSS = """
html.projector {
  --body-text-size: 24px; --prose-text-size: 24px; --text-md: 24px; --text-lg: 26px; --text-xl: 30px;
  --text-sm: 20px; --text-xs: 18px; --text-xxs: 16px;
  --block-title-text-size: 22px; --block-label-text-size: 20px; --block-info-text-size: 20px;
  --input-text-size: 24px; --button-large-text-size: 24px; --button-medium-text-size: 22px;
  --button-small-text-size: 20px; --checkbox-label-text-size: 22px; --section-header-text-size: 24px;
  --body-text-color: #000; --body-text-color-subdued: #222; --block-title-text-color: #000;
  --block-label-text-color: #000; --block-info-text-color: #111; --input-placeholder-color: #333;
  --border-color-primary: #333; --block-border-color: #333; --input-border-color: #333;
  --background-fill-primary: #fff; --background-fill-secondary: #fff; --block-background-fill: #fff;
  --layout-gap: 10px; --block-padding: 8px 10px;
}
html.projector body, html.projector .gradio-container { font-size: 24px; color: #000; background: #fff; }
html.projector .prose, html.projector .prose p, html.projector .prose li, html.projector .prose td,
html.projector .prose th { font-size: 24px; line-height: 1.35; color: #000; }
html.projector .prose h1 { font-size: 34px; margin: 0; }
html.projector .gradio-container { max-width: none !important; padding: 4px 12px !important; }
/* The page's and the tabs' introductions are for reading alone; on a projector the main view comes first. */
html.projector .ddpm-intro, html.projector .tab-intro { display: none; }
html.projector .tab-actions { order: -1; }
html.projector button[role="tab"] { font-size: 24px; font-weight: 600; padding: 2px 14px; line-height: 1.2; }
html.projector button[role="tab"][aria-selected="true"] { border-bottom: 4px solid #0072B2; }
/* A tall grid (one row per class) keeps its shape and stays above the fold. */
html.projector #sample-live figure img { max-height: calc(100vh - 280px); object-fit: contain; }
/* The views inside a tab (the 2-D lab's forward, loss, reverse, continuous time) a step smaller than the tabs. */
html.projector .tabs .tabs button[role="tab"], html.projector #lab-views button[role="tab"] {
  font-size: 20px; padding: 2px 10px; }
/* A slider's label keeps its width: its number box moves under it rather than squeezing it. */
html.projector .block .head { flex-wrap: wrap; row-gap: 4px; }
html.projector .block .head > label { flex: 1 1 auto; min-width: 6em; }
html.projector .eq-code .code_wrap, html.projector .eq-code .cm-editor { font-size: 20px; }
/* The statistics table and the histogram side by side leave each too narrow for 24 px text: one above the other. */
html.projector #fwd-stats-row { flex-wrap: wrap; }
html.projector #fwd-stats-row > * { min-width: 100% !important; }
/* Upload boxes tall enough for "Drop File Here - or - Click to Upload" at 24 px. */
html.projector #train-files, html.projector #eval-files { min-height: 250px; }
"""

# Run on page load: apply ?projector= or the remembered choice, re-lay out plots as they are drawn,
# and expose window.ddpmProjector(on) for the button.
JS = """
() => {
  const FONT = %(font)d;
  const on = () => document.documentElement.classList.contains('projector');
  // Each figure's own layout (as the server sent it) is remembered; projector mode scales its text and
  // margins by FONT / its font size and caps its height at the window's below the header and two rows of tabs (the 2-D lab's views).
  const fit = (gd) => {
    if (!window.Plotly || !gd.layout) return;
    if (gd._ddpmFigure !== gd.data) {  // a new figure from the server
      const layout = gd.layout;
      gd._ddpmFigure = gd.data;
      gd._ddpmState = 'off';
      gd._ddpmOriginal = {
        font: (layout.font && layout.font.size) || 14, height: layout.height,
        margin: Object.assign({}, layout.margin || {}),
        title: layout.title && layout.title.font && layout.title.font.size,
        annotations: (layout.annotations || []).map((a) => a.font && a.font.size),
        legend: layout.legend && layout.legend.y < 0 ? {y: layout.legend.y, yanchor: layout.legend.yanchor} : null,
      };
    }
    const state = on() ? 'on' : 'off';
    if (gd._ddpmState === state) return;
    gd._ddpmState = state;
    const o = gd._ddpmOriginal, scale = state === 'on' ? FONT / o.font : 1;
    const update = {'font.size': Math.round(o.font * scale)};
    if (o.height) update.height = state === 'on' ? Math.min(o.height, Math.max(320, window.innerHeight - 172)) : o.height;
    ['t', 'b', 'l', 'r'].forEach((side) => {
      if (o.margin[side] !== undefined) update['margin.' + side] = Math.round(o.margin[side] * scale);
    });
    if (o.title) update['title.font.size'] = Math.round(o.title * scale);
    o.annotations.forEach((size, i) => { if (size) update['annotations[' + i + '].font.size'] = Math.round(size * scale); });
    if (o.legend) {  // a legend below the plot goes to the bottom edge, clear of a slider's larger labels
      const height = update.height || o.height || 450, top = update['margin.t'] || 80, bottom = update['margin.b'] || 80;
      const area = Math.max(1, height - top - bottom);
      update['legend.y'] = state === 'on' ? -(bottom - 4) / area : o.legend.y;
      update['legend.yanchor'] = state === 'on' ? 'bottom' : (o.legend.yanchor || 'auto');
    }
    window.Plotly.relayout(gd, update);
  };
  // An equation wider than its column is drawn smaller until it fits (down to half size), in either mode.
  const fitEquation = (eq) => {
    const column = eq.parentElement && eq.parentElement.closest('p, div');
    const inner = eq.querySelector('.katex');
    if (!column || !inner || !eq.offsetParent) return;
    inner.style.fontSize = '';  // (KaTeX sizes its .katex in em; set it in px, from its size without ours)
    const left = eq.getBoundingClientRect().left;
    const right = Math.max(...[...eq.querySelectorAll('.base')].map((b) => b.getBoundingClientRect().right), left);
    const needed = right - left, room = Math.min(column.getBoundingClientRect().right, window.innerWidth) - left - 4;
    if (needed > room && room > 0) {
      const px = parseFloat(getComputedStyle(inner).fontSize);
      inner.style.fontSize = Math.max(0.5 * px, px * room / needed).toFixed(1) + 'px';
    }
  };
  const fitAll = () => {
    document.querySelectorAll('.js-plotly-plot').forEach((gd) => {
      if (!gd._ddpmHooked && gd.on) { gd._ddpmHooked = true; gd.on('plotly_afterplot', () => fit(gd)); }
      fit(gd);
    });
    document.querySelectorAll('.katex-display').forEach(fitEquation);
  };
  window.addEventListener('resize', fitAll);
  // A tab shown for the first time lays out its equations only then.
  document.addEventListener('click', (event) => {
    if (event.target.closest && event.target.closest('button[role=tab]')) setTimeout(fitAll, 50);
  });
  window.ddpmProjector = (value) => {
    document.documentElement.classList.toggle('projector', value);
    try { localStorage.setItem('ddpm_projector', value ? '1' : '0'); } catch (e) {}
    fitAll();
    return value;
  };
  const asked = new URLSearchParams(location.search).get('projector');
  let stored = null;
  try { stored = localStorage.getItem('ddpm_projector'); } catch (e) {}
  window.ddpmProjector(asked !== null ? asked === '1' || asked === 'true' : stored === '1');
  new MutationObserver(fitAll).observe(document.body, {childList: true, subtree: true});
}
""" % {"font": PLOT_FONT_PX}

TOGGLE_JS = "() => window.ddpmProjector(!document.documentElement.classList.contains('projector'))"
