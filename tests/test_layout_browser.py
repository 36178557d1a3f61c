"""Every tab at 1280×720 and 1920×1080, in English and Korean, in normal and projector mode: no text cut at the
edge of its box, no two labels on top of each other, no equation wider than its column, no plot whose title,
legend and axis titles collide. Screenshots: artifacts/layout_<language>_<mode>_<width>_<tab>.png.
"""

from __future__ import annotations

import pytest

SIZES = [(1280, 720), (1920, 1080)]
TABS = ["forward", "lab2d", "train", "sample", "edit", "evaluate"]

# Looks at what is on screen now and returns the problems it finds, each [kind, where, detail].
FIND_PROBLEMS = r"""
() => {
  const problems = [];
  const shown = (el) => {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' && el.offsetParent !== null;
  };
  const name = (el) => {
    const id = el.closest('[id]');
    return `${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : ''}`
      + ` in #${id ? id.id : '?'}: "${Array.from((el.innerText || el.value || el.textContent || '').trim()).slice(0, 50).join('')}"`;
  };
  const tab = [...document.querySelectorAll('[role=tabpanel]')].find(shown) || document.body;
  const inTab = (el) => tab.contains(el) || el.closest('header, #ddpm-header');
  // 1. text cut off: a box that clips (overflow hidden/clip or ellipsis) and whose content is wider than it
  for (const el of document.querySelectorAll('label span, [data-testid=block-info], button, th, td, figcaption, input[type=text], input:not([type]), .prose p, .prose li, h1, h2, h3')) {
    if (!shown(el) || !inTab(el)) continue;
    const s = getComputedStyle(el);
    const clips = s.overflowX === 'hidden' || s.overflowX === 'clip' || s.textOverflow === 'ellipsis' || el.tagName === 'INPUT';
    if (clips && el.scrollWidth > el.clientWidth + 2) problems.push(['cut', name(el), `${el.scrollWidth} > ${el.clientWidth}`]);
  }
  // 1b. text inside a box that hides what sticks out (overflow hidden or clip), sticking out of it; and text
  // beyond the window's right edge
  const leaves = [...tab.querySelectorAll('*')].filter((el) => shown(el)
    && [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())
    && !el.closest('.js-plotly-plot, .cm-editor, .katex, svg, [role=listbox], .options, .progress-text, .eta-bar'));
  for (const el of leaves) {
    const r = el.getBoundingClientRect();
    if (r.right > window.innerWidth + 2) { problems.push(['beyond the window', name(el), `${Math.round(r.right)}`]); continue; }
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (['hidden', 'clip'].includes(s.overflowX) || ['hidden', 'clip'].includes(s.overflowY)) {
        const q = a.getBoundingClientRect();
        if (q.width <= 2 || q.height <= 2) break;  // a copy Gradio keeps out of sight to measure its tabs
        if (r.right > q.right + 2 || r.bottom > q.bottom + 2 || r.left < q.left - 2 || r.top < q.top - 2)
          problems.push(['clipped', name(el), `by ${a.tagName.toLowerCase()}.${String(a.className).split(' ')[0]}`]);
        break;
      }
    }
  }
  // 2. an equation wider than the column it sits in
  for (const eq of document.querySelectorAll('.katex-display, .katex')) {
    if (!shown(eq) || !inTab(eq)) continue;
    const column = eq.closest('.prose, .block') || eq.parentElement;
    const right = Math.min(column.getBoundingClientRect().right, window.innerWidth);
    const mine = Math.max(eq.getBoundingClientRect().right, ...[...eq.querySelectorAll('.base')].map((b) => b.getBoundingClientRect().right));
    if (mine > right + 2) problems.push(['equation', name(eq), `${Math.round(mine)} > ${Math.round(right)}`]);
  }
  // 2b. a table cell squeezed into more than three lines
  for (const cell of tab.querySelectorAll('td, th')) {
    if (!shown(cell)) continue;
    const line = parseFloat(getComputedStyle(cell).lineHeight) || 1.3 * parseFloat(getComputedStyle(cell).fontSize);
    if (cell.getBoundingClientRect().height > 3.5 * line) problems.push(['cramped cell', name(cell), `${Math.round(cell.getBoundingClientRect().height)} px`]);
  }
  // 3. labels that overlap
  const labels = [...document.querySelectorAll('[data-testid=block-info], label > span')].filter((el) => shown(el) && inTab(el));
  const boxes = labels.map((el) => el.getBoundingClientRect());
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    const w = Math.min(a.right, b.right) - Math.max(a.left, b.left), h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    if (w > 2 && h > 2 && !labels[i].contains(labels[j]) && !labels[j].contains(labels[i]))
      problems.push(['labels overlap', name(labels[i]), name(labels[j])]);
  }
  // 4. inside each plot: the title, the legend and the axis titles must not cover one another
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    if (!shown(gd) || !inTab(gd)) continue;
    const parts = [...gd.querySelectorAll('.gtitle, .legend .bg, .g-xtitle text, .g-x2title text, .g-ytitle text, .g-y2title text, .slider-group .slider-current-value, .updatemenu-container .updatemenu-button, .annotation-text-g')]
      .filter((el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; });
    const rects = parts.map((el) => el.getBoundingClientRect());
    for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) {
      const a = rects[i], b = rects[j];
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left), h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      const kind = (el) => el.closest('.legend') ? 'legend' : el.getAttribute('class');
      if (w > 3 && h > 3 && kind(parts[i]) !== kind(parts[j])) problems.push(['plot parts overlap', name(gd),
        `${kind(parts[i])} / ${kind(parts[j])}`]);
    }
    const plot = gd.getBoundingClientRect();
    for (const title of gd.querySelectorAll('.gtitle')) {
      const r = title.getBoundingClientRect();
      if (r.width && (r.left < plot.left - 2 || r.right > plot.right + 2)) problems.push(['plot title cut', name(gd), title.textContent]);
    }
  }
  return problems;
}
"""


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("button[role=tab]")
    page.wait_for_selector("#fwd-scrub canvas")
    page.wait_for_function("document.querySelector('#fwd-stats table') && "
                           "!/processing/.test(document.querySelector('#fwd-stats').innerText)")


@pytest.mark.parametrize("width, height", SIZES)
@pytest.mark.parametrize("projector", [True, False])
@pytest.mark.parametrize("language", ["en", "ko"])
def test_no_text_is_cut_and_nothing_overlaps(browser, app_url, artifacts, language, projector, width, height):
    context = browser.new_context(viewport={"width": width, "height": height},
                                  locale="ko-KR" if language == "ko" else "en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        _open(page, f"{app_url}/?lang={language}&projector={int(projector)}")
        found = {}
        for index, tab in enumerate(TABS):
            page.locator("button[role=tab]").nth(index).click()
            page.wait_for_timeout(1200)  # plots re-laid out, images decoded
            mode = "projector" if projector else "normal"
            page.screenshot(path=str(artifacts / f"layout_{language}_{mode}_{width}_{tab}.png"))
            problems = page.evaluate(FIND_PROBLEMS)
            if problems:
                found[tab] = problems
        assert not found, found
    finally:
        context.close()
