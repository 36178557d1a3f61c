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
html.projector .ddpm-intro { display: none; }
html.projector button[role="tab"] { font-size: 24px; font-weight: 600; padding: 4px 14px; }
html.projector button[role="tab"][aria-selected="true"] { border-bottom: 4px solid #0072B2; }
html.projector .eq-code .code_wrap, html.projector .eq-code .cm-editor { font-size: 20px; }
"""

# Run on page load: apply ?projector= or the remembered choice, re-lay out plots as they are drawn,
# and expose window.ddpmProjector(on) for the button.
JS = """
() => {
  const FONT = %(font)d;
  const on = () => document.documentElement.classList.contains('projector');
  const fit = (gd) => {
    if (!window.Plotly || !gd.layout) return;
    const want = on() ? FONT : (gd._ddpmFont || 14);
    const have = gd.layout.font && gd.layout.font.size;
    if (gd._ddpmFont === undefined) gd._ddpmFont = have || 14;
    if (have === want) return;
    const scale = want / (have || 14);
    const update = {'font.size': want};
    if (gd.layout.title && gd.layout.title.font && gd.layout.title.font.size)
      update['title.font.size'] = Math.round(gd.layout.title.font.size * scale);
    (gd.layout.annotations || []).forEach((a, i) => {
      if (a.font && a.font.size) update['annotations[' + i + '].font.size'] = Math.round(a.font.size * scale);
    });
    window.Plotly.relayout(gd, update);
  };
  const fitAll = () => document.querySelectorAll('.js-plotly-plot').forEach((gd) => {
    if (!gd._ddpmHooked && gd.on) { gd._ddpmHooked = true; gd.on('plotly_afterplot', () => fit(gd)); }
    fit(gd);
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
